/**
 * The DHCP service: sockets in, policy, lease engine, reply out — decided and encoded
 * synchronously, with no await between a packet and its reply, except that the ACK of an alien
 * lease leaves once its row is committed (group commit, lease-store.ts; the crash-safety
 * argument is in leases.ts and docs/dhcp.md). One log line per transaction, metrics for
 * everything dropped.
 */
import { BootProgress } from '../boot/progress.js';
import { bootProgressOf } from '../boot/service.js';
import type { GatehouseConfig } from '../config/index.js';
import { parseListen } from '../config/listen.js';
import { errorMessage } from '../errors.js';
import { type Logger, createLogger } from '../log.js';
import { type Counter, Metrics } from '../metrics.js';
import type { Service, ServiceContext } from '../service.js';
import type { Machine } from '../mdb/model.js';
import type { Store } from '../store/index.js';
import { MSG, decodePacket, encodePacket } from './codec.js';
import { type Cell, CounterCells } from './counters.js';
import { HostMap } from './hosts.js';
import { type Cidr, type Ip, formatIp, inCidr, parseIp } from './ipv4.js';
import {
  type EngineState,
  StoreLeaseWriter,
  declareDhcpTables,
  readEngineState,
  readLeaseTable,
  writeEngineState,
} from './lease-store.js';
import { LeaseEngine, type LeaseOp } from './leases.js';
import { type DhcpRequest, readRequest, relayAgentSummary } from './options.js';
import { type DhcpPlan, buildPlan } from './plan.js';
import { type Decision, type ReplyDecision, decide, isIpxe } from './policy.js';
import { type DhcpSecond, dhcpSecond } from './summary.js';
import { PeriodSummary } from '../log-summary.js';
import { type Destination, buildReply } from './reply.js';
import { type StandInHandle, WarmTraffic, servedMachine, standInRawSocket, warmMachines } from './warmup.js';
import type { RawSocket } from 'raw-socket';
import type { WriteTx } from '../store/index.js';
import { PortGuard } from './port-guard.js';
import { type Inbound, InterfaceSocket, RelaySocket, type Transport, relayedInbound } from './transport.js';

/** How often the port guard follows the interfaces' addresses. */
const GUARD_SYNC_MS = 5000;
/** Synthetic requests per warm-up slice: a few ms of the event loop once compiled. */
const WARMUP_SLICE_REQUESTS = 160;
/**
 * Every fourth slice, one twin gets this many at once: more than two full batches of the
 * transport (RECV_BATCH, 64), which its rate estimate needs.
 */
const WARMUP_BURST_REQUESTS = 136;

/** The warm-up twin's logger: nothing reaches a sink (the level stops every line before it). */
const DROP_LOGGER = createLogger({ level: 'error', sink: () => {} });
/** The warm-up twin's lease store: commits at once, keeps nothing. */
const KEEP_NOTHING = {
  write<R>(fn: (tx: WriteTx) => R): Promise<R> {
    const tx = { put() {}, delete() {} } as unknown as WriteTx;
    return Promise.resolve(fn(tx));
  },
};

/** Room for the IPv4 + UDP headers a raw transport writes in front of each reply. */
const IP_UDP_HEADROOM = 28;

/**
 * At most `perSecond` lines per bucket (the event name unless given); the rest are counted and
 * summarised in a `dhcp.log_suppressed` line at `suppressedLevel`.
 */
class LogLimiter {
  private readonly windows = new Map<string, { start: number; count: number; suppressed: number }>();
  constructor(
    private readonly logger: Logger,
    private readonly perSecond = 20,
    private readonly suppressedLevel: 'debug' | 'warn' = 'warn',
  ) {}

  /** Moves every window's start back by `ms` (the warm-up: it runs the per-second rollover too). */
  age(ms: number): void {
    for (const w of this.windows.values()) w.start -= ms;
  }

  log(level: 'debug' | 'info' | 'warn', event: string, fields: Record<string, unknown>, now: number): void {
    if (this.allow(event, now)) this.logger[level](event, fields);
  }

  /**
   * Whether one more line of `bucket` may be written now (counted as written if so); callers
   * that build costly fields ask first.
   */
  allow(bucket: string, now: number): boolean {
    let w = this.windows.get(bucket);
    if (!w || now - w.start >= 1000) {
      if (w && w.suppressed > 0)
        this.logger[this.suppressedLevel]('dhcp.log_suppressed', { event: bucket, lines: w.suppressed });
      w = { start: now, count: 0, suppressed: 0 };
      this.windows.set(bucket, w);
    }
    if (w.count >= this.perSecond) {
      w.suppressed++;
      return false;
    }
    w.count++;
    return true;
  }
}

const DROP_LEVEL: Partial<Record<string, 'info' | 'warn'>> = {
  'pool-exhausted': 'warn',
  probation: 'info',
  'host-not-served': 'info',
  declined: 'warn',
  'fixed-address-declined': 'warn',
  released: 'info',
  'relay-network-not-served': 'warn',
  'not-relayed': 'info',
};

interface DhcpMetrics {
  /** Packet-path counters are cells (counters.ts); the rare ones stay prom-client calls. */
  received: CounterCells;
  replies: CounterCells;
  dropped: CounterCells;
  malformed: Counter<'reason'>;
  exhausted: Counter<string>;
  sendErrors: Counter<string>;
  leaseWrites: Counter<'result'>;
}

const REPLY_TYPE = { offer: 'OFFER', ack: 'ACK', nak: 'NAK' } as const;
const LOG_LEVEL = { debug: 10, info: 20, warn: 30, error: 40 } as const;

export interface DhcpServerOptions {
  config: GatehouseConfig;
  store: Store;
  logger: Logger;
  metrics: Metrics;
  /** Clock (tests). */
  now?: () => number;
  /** Boot progress (src/boot): PXE and iPXE DISCOVERs/REQUESTs, addresses handed out. */
  boot?: BootProgress;
  /** A warm-up twin (warmUp): its own fixed host map and a lease writer to no store. */
  twinOf?: { hosts: HostMap; writer: StoreLeaseWriter };
}

export class DhcpServer implements Service {
  readonly name = 'dhcp';
  private plan: DhcpPlan;
  private config: GatehouseConfig;
  private readonly store: Store;
  private readonly logger: Logger;
  private readonly limiter: LogLimiter;
  /**
   * Per-reply lines (`dhcp.offer`, `dhcp.ack`, `dhcp.nak`): 20 a second in all; the
   * `dhcp.summary` line of each second counts every one (docs/dhcp.md, issue 13).
   */
  private readonly replyLimiter: LogLimiter;
  private readonly summary: PeriodSummary<DhcpSecond>;
  private readonly boot: BootProgress | undefined;
  private readonly m: DhcpMetrics;
  private readonly now: () => number;
  private readonly hosts: HostMap;
  private readonly writer: StoreLeaseWriter;
  private engine!: LeaseEngine;
  private transports: Transport[] = [];
  private guard: PortGuard | undefined;
  private guardTimer: NodeJS.Timeout | undefined;
  private serverIds = new Set<Ip>();
  /** The configured log level: per-packet log fields are built only for lines that are emitted. */
  private logLevel: number;
  private serverIdsAt = 0;
  /** `dhcp.serverId` parsed once (relay socket). */
  private configuredServerId: Ip | undefined;
  /** `ha.floatingAddresses` (when HA is on): preferred server identifiers, see serverIdFor. */
  private floatingIds: readonly Ip[] = [];
  /** Received counters by message type (index = option 53 value; 0 = BOOTP). */
  private receivedByType: Cell[] = [];
  private stopping = false;
  /** The warm-up in progress after start (warmUp). */
  private warming: Promise<void> = Promise.resolve();
  /**
   * dhcp.ackAfterCommit as started: the store's marker says whether this run needs a probation
   * after a crash, so the setting only changes with a restart.
   */
  private readonly ackAfterCommit: boolean;

  constructor(opts: DhcpServerOptions) {
    this.config = opts.config;
    this.plan = buildPlan(opts.config);
    this.logLevel = LOG_LEVEL[opts.config.log.level];
    this.ackAfterCommit = opts.config.dhcp.ackAfterCommit;
    this.configuredServerId = opts.config.dhcp.serverId ? parseIp(opts.config.dhcp.serverId) : undefined;
    this.floatingIds = floatingAddressesOf(opts.config);
    this.store = opts.store;
    this.logger = opts.logger.child({ part: 'dhcp' });
    this.limiter = new LogLimiter(this.logger);
    this.replyLimiter = new LogLimiter(this.logger, 20, 'debug');
    this.summary = new PeriodSummary(this.logger, 'dhcp.summary', dhcpSecond);
    this.boot = opts.boot;
    this.now = opts.now ?? Date.now;
    this.hosts = opts.twinOf?.hosts ?? new HostMap(opts.store);
    this.writer = opts.twinOf?.writer ?? new StoreLeaseWriter(opts.store, this.logger);
    const metrics = opts.metrics;
    this.m = {
      received: new CounterCells(
        metrics.counter('gatehouse_dhcp_received_total', 'DHCP messages received, by message type', ['type']),
        ['type'],
      ),
      replies: new CounterCells(
        metrics.counter('gatehouse_dhcp_replies_total', 'DHCP replies sent, by type and case', [
          'type',
          'case',
        ]),
        ['type', 'case'],
      ),
      dropped: new CounterCells(
        metrics.counter('gatehouse_dhcp_dropped_total', 'DHCP requests not answered, by reason', ['reason']),
        ['reason'],
      ),
      malformed: metrics.counter('gatehouse_dhcp_malformed_total', 'Malformed DHCP datagrams, by reason', [
        'reason',
      ]),
      exhausted: metrics.counter(
        'gatehouse_dhcp_pool_exhausted_total',
        'DISCOVERs left without an offer: alien pool full',
      ),
      sendErrors: metrics.counter(
        'gatehouse_dhcp_send_errors_total',
        'DHCP replies the kernel refused to send',
      ),
      leaseWrites: metrics.counter(
        'gatehouse_dhcp_lease_writes_total',
        'Lease changes written to the store, by result',
        ['result'],
      ),
    };
    const leaseGauge = metrics.gauge('gatehouse_dhcp_leases', 'Alien pool addresses by state', ['state']);
    const self = this;
    // prom-client calls collect() on scrape: counting the pool there keeps the packet path free of it.
    (leaseGauge as unknown as { collect?: () => void }).collect = function collect() {
      if (!self.engine) return;
      const c = self.engine.counts(self.now());
      leaseGauge.set({ state: 'bound' }, c.bound);
      leaseGauge.set({ state: 'offered' }, c.offered);
      leaseGauge.set({ state: 'declined' }, c.declined);
      leaseGauge.set({ state: 'free' }, c.free);
    };
    const probationGauge = metrics.gauge(
      'gatehouse_dhcp_probation',
      '1 while new alien leases wait out a crash (see docs/dhcp.md)',
    );
    (probationGauge as unknown as { collect?: () => void }).collect = function collect() {
      probationGauge.set(self.engine?.inProbation(self.now()) ? 1 : 0);
    };
    this.writer.onFlush = (rows, error) => this.m.leaseWrites.inc({ result: error ? 'error' : 'ok' }, rows);
    this.receivedByType = ['BOOTP', ...Object.keys(MSG)].map((type) => this.m.received.cell(type));
  }

  async start(): Promise<void> {
    declareDhcpTables(this.store);
    this.hosts.start();
    const now = this.now();
    const { table, state } = this.store.read((tx) => ({
      table: readLeaseTable(tx),
      state: readEngineState(tx),
    }));
    const records = table.records;
    for (const d of table.damaged) {
      this.logger.error('dhcp.lease_block_damaged', {
        key: d.key,
        error: d.error,
        effect: 'the leases after the damage are unknown; their addresses may be offered again',
      });
    }
    this.writer.seed(records);
    if (table.perLeaseKeys.length > 0) {
      await this.writer.convert(table.perLeaseKeys);
      this.logger.info('dhcp.leases_converted', {
        rows: table.perLeaseKeys.length,
        format: 'one row per /24',
      });
    }
    // A server that acknowledged only committed leases (durableAcks) lost none a client holds.
    const unclean = state?.running === true && state.durableAcks !== true;
    const probationMs = unclean ? Math.max(state.maxLeaseTime, this.plan.alien.leaseTime) * 1000 : 0;
    this.engine = new LeaseEngine({ start: this.plan.alien.start, end: this.plan.alien.end }, this.writer);
    this.engine.load(records, unclean ? now + probationMs : 0);
    if (unclean) {
      this.logger.warn('dhcp.probation', {
        reason: 'the previous run did not stop cleanly; leases it gave in its last moments may be lost',
        until: new Date(now + probationMs).toISOString(),
        effect: 'unknown machines get no new address until then; renewals and known machines are served',
      });
    }
    await writeEngineState(this.store, this.engineState(true, now));
    this.summary.start();
    try {
      await this.openTransports();
    } catch (e) {
      await this.stop();
      throw e;
    }
    this.logger.info('dhcp.started', {
      interfaces: this.transports.map((t) => t.iface ?? `relay-only ${this.config.dhcp.listen}`),
      kernelFiltered: this.transports.filter((t) => t instanceof InterfaceSocket && t.filter.attached).length,
      alienRange: `${formatIp(this.plan.alien.start)}-${formatIp(this.plan.alien.end)}`,
      leases: records.length,
      knownHosts: this.hosts.size,
    });
    this.warming = this.warmUp();
  }

  /** Resolves when the start-up warm-up is over (benches measure a warmed server). */
  warmedUp(): Promise<void> {
    return this.warming;
  }

  rewarm(): Promise<void> {
    if (!this.stopping) this.warming = this.warming.then(() => this.warmUp());
    return this.warming;
  }

  /**
   * See warmup.ts. Runs after the sockets are open, in slices with the event loop free between
   * them, so a request that arrives meanwhile waits one slice (a few ms), not the whole warm-up
   * (~250 ms cold): a promoted HA standby must answer at once (bench/ha measured DHCP takeover
   * 300 ms behind DNS with the warm-up before the sockets). A failure costs only the warm-up.
   */
  private async warmUp(): Promise<void> {
    const rounds = this.config.dhcp.warmupRounds;
    if (rounds === 0) return;
    let ms = 0;
    const twins: Array<{ server: DhcpServer; handles: StandInHandle[] }> = [];
    try {
      let t0 = performance.now();
      const machines = warmMachines(this.plan, servedMachine(this.plan, this.hosts.machines()), rounds);
      // Two twins, used in turn: a closure made per server (onPacket, isServerId, the logger's)
      // is called where TurboFan would otherwise bet on the one twin's closure, and deoptimise
      // at the real server's first request; after two closures of one site it checks the site.
      for (let i = 0; i < 2; i++) twins.push(this.warmTwin(machines));
      const interfaces = twins[0]!.handles.length > 0;
      // Relay-only: requests as a relay on the LAN forwards them, handed over as the relay socket
      // does (the twin has no stand-in relay socket: there the warm-up stops at the reply's send).
      const giaddr = interfaces ? 0 : this.plan.gateway;
      const traffic = new WarmTraffic(twins[0]!.server.plan, machines, this.plan.gateway, giaddr);
      ms += performance.now() - t0;
      const perSlice = Math.max(2, Math.ceil(WARMUP_SLICE_REQUESTS / Math.max(1, traffic.size)));
      for (let done = 0, slice = 0; done < rounds && !this.stopping && traffic.size > 0; slice++) {
        await new Promise<void>((r) => setImmediate(r));
        t0 = performance.now();
        const n = Math.min(perSlice, rounds - done);
        done += n;
        // Every fourth slice a twin (in turn) gets a burst at once (a storm's consecutive full
        // batches), the other the rest; otherwise each gets half, mostly one exchange per wakeup,
        // sometimes three (the trickle around a burst, and what makes the receive loop hot).
        const burstSlice = slice % 4 === 0;
        const burstRounds = Math.min(n, Math.ceil(WARMUP_BURST_REQUESTS / traffic.size));
        for (const [i, twin] of twins.entries()) {
          const burst = burstSlice && i === (slice >> 2) % 2;
          let share: number;
          if (burstSlice) share = burst ? burstRounds : n - burstRounds;
          else share = i === 0 ? Math.ceil(n / 2) : Math.floor(n / 2);
          const frames = traffic.frames(share);
          for (let k = 0, w = 0; k < frames.length; w++) {
            const step = burst ? frames.length : w % 6 === 5 ? 6 : 2;
            const wakeup = frames.slice(k, k + step);
            k += step;
            if (interfaces) twin.handles[0]!.deliver(wakeup, burst);
            else
              for (const f of wakeup)
                twin.server.onPacket(relayedInbound(f.subarray(28), giaddr, 67, giaddr));
          }
          // TFTP and netboot report the same machines' later phases by address (boot progress
          // is one object for all three, and this code is DHCP's as much as theirs).
          for (const ip of traffic.addresses) twin.server.boot?.record(ip, 'tftpDone', this.now());
          // A slice stands for a second or two of a storm: the per-second and 5-s paths run too.
          twin.server.age(1500);
        }
        ms += performance.now() - t0;
      }
      // ACKs of alien leases leave after their (keep-nothing) commit.
      for (const twin of twins) await twin.server.writer.drain();
      // The twins settled some fields' representations (a number field that only held small
      // integers now holds doubles): V8 moves an object created before onto the new hidden class
      // when it is next accessed outside optimised code, which would otherwise deoptimise on it.
      // The real sockets (and their backlog estimates) are touched so, changing nothing.
      for (const t of this.transports) if (t instanceof InterfaceSocket) t.age(0);
      for (const twin of twins) {
        this.m.received.resolveLike(twin.server.m.received);
        this.m.replies.resolveLike(twin.server.m.replies);
        this.m.dropped.resolveLike(twin.server.m.dropped);
      }
      const sum = (f: (h: StandInHandle) => number) =>
        twins.reduce((n, t) => n + t.handles.reduce((k, h) => k + f(h), 0), 0);
      this.logger.info('dhcp.warmed_up', {
        rounds,
        warmupMs: Math.round(ms),
        ...(interfaces ? { requests: sum((h) => h.received), replies: sum((h) => h.sent) } : {}),
      });
    } catch (e) {
      this.logger.warn('dhcp.warmup_failed', {
        error: errorMessage(e),
        effect: 'the first requests after start run slower code; nothing else is affected',
      });
    } finally {
      // Not twin.stop(): that writes the engine state of the real store.
      for (const twin of twins) {
        await Promise.all(twin.server.transports.map((t) => t.close()));
        await twin.server.writer.close().catch(() => {});
      }
    }
  }

  /**
   * A server of this class for the warm-up (warmup.ts): its own plan (profile caches), the
   * warm-up's machines, a lease engine whose writer keeps nothing, a metrics registry nobody
   * scrapes, a logger that writes nothing, its own boot progress and summary, and an interface
   * socket on a stand-in raw socket per served interface.
   */
  private warmTwin(machines: Iterable<Machine>): { server: DhcpServer; handles: StandInHandle[] } {
    const server = new DhcpServer({
      config: this.config,
      store: this.store,
      logger: DROP_LOGGER,
      metrics: new Metrics(),
      now: this.now,
      ...(this.boot ? { boot: new BootProgress() } : {}),
      twinOf: { hosts: HostMap.fixed(machines), writer: new StoreLeaseWriter(KEEP_NOTHING, DROP_LOGGER) },
    });
    server.engine = new LeaseEngine(
      { start: server.plan.alien.start, end: server.plan.alien.end },
      server.writer,
    );
    const handles: StandInHandle[] = [];
    for (const t of this.transports) {
      if (!(t instanceof InterfaceSocket)) continue;
      const standIn = standInRawSocket();
      server.transports.push(server.interfaceSocket(t.iface, standIn.socket));
      handles.push(standIn.handle);
    }
    return { server, handles };
  }

  /**
   * A warm-up twin's clocks move on by `ms`: log windows, server identifiers, interface
   * addresses, backlog; and its second's summary is written (to no log). The periodic paths run
   * too, so that a field they write is no longer written-once when the real server writes it in
   * a storm (V8 deoptimises code that relied on a field written only once).
   */
  private age(ms: number): void {
    this.summary.flush();
    this.limiter.age(ms);
    this.replyLimiter.age(ms);
    this.serverIdsAt -= ms;
    for (const t of this.transports) if (t instanceof InterfaceSocket) t.age(ms);
  }

  private engineState(running: boolean, now: number): EngineState {
    return {
      running,
      startedAt: now,
      maxLeaseTime: this.plan.alien.leaseTime,
      durableAcks: this.ackAfterCommit,
    };
  }

  private async openTransports(): Promise<void> {
    const d = this.config.dhcp;
    if (d.interfaces.length > 0) {
      for (const name of d.interfaces) {
        const t = this.interfaceSocket(name, undefined);
        this.transports.push(t);
        if (!t.filter.attached)
          this.logger.warn('dhcp.socket_filter_unavailable', {
            interface: name,
            reason: t.filter.reason,
            effect:
              'every UDP datagram of the interface (TFTP, DNS…) is read by the DHCP socket and counts in its overload estimate; in a boot storm DISCOVERs may be shed',
          });
        if (t.addresses().length === 0)
          this.logger.warn('dhcp.interface_without_address', { interface: name });
      }
      if (d.portGuard) {
        const guard = new PortGuard(d.serverPort, this.onError);
        this.guard = guard;
        const own = () => this.transports.flatMap((t) => t.addresses());
        await guard.sync(own());
        // Addresses may come later (HA takeover); InterfaceSocket re-reads them every 5 s.
        this.guardTimer = setInterval(() => void guard.sync(own()), GUARD_SYNC_MS);
        this.guardTimer.unref();
      }
    } else {
      const { host, port } = parseListen(d.listen);
      this.transports.push(
        await RelaySocket.open({
          host,
          port,
          recvBufferBytes: d.recvBufferBytes,
          onPacket: this.onPacket,
          onError: this.onError,
        }),
      );
    }
  }

  private readonly onPacket = (p: Inbound): void => this.handle(p);
  private readonly onError = (e: unknown, where: string, to?: Destination): void =>
    this.transportError(e, where, to);

  /**
   * The socket of a served interface; `socket` is the warm-up twin's stand-in (undefined: a raw
   * socket is opened). One construction site for both, so both get the same shapes.
   */
  private interfaceSocket(name: string, socket: RawSocket | undefined): InterfaceSocket {
    const d = this.config.dhcp;
    return new InterfaceSocket({
      name,
      serverPort: d.serverPort,
      recvBufferBytes: d.recvBufferBytes,
      maxQueueDelayMs: d.maxQueueDelayMs,
      onShed: (count, delayMs) => this.shed(name, count, delayMs),
      onPacket: this.onPacket,
      onError: this.onError,
      socket,
    });
  }

  /** The relay socket's port (tests bind port 0). */
  get relayPort(): number | undefined {
    const t = this.transports.find((x) => x instanceof RelaySocket) as RelaySocket | undefined;
    return t?.port;
  }

  get leases(): LeaseEngine {
    return this.engine;
  }

  private shed(iface: string, count: number, delayMs: number): void {
    this.m.dropped.add('overload-shed', '', count);
    this.summary.c.shed += count;
    this.summary.touch();
    this.limiter.log(
      'warn',
      'dhcp.overload',
      {
        interface: iface,
        dropped: count,
        queueDelayMs: Math.round(delayMs),
        effect: 'oldest requests dropped unread so that the rest are answered while their clients still wait',
      },
      this.now(),
    );
  }

  private transportError(e: unknown, where: string, to?: Destination): void {
    if (where === 'ip-udp') {
      this.m.malformed.inc({ reason: `ip-${errorMessage(e)}` });
      return;
    }
    if (where === 'send') {
      this.m.sendErrors.inc();
      const fields = { to: to ? `${formatIp(to.ip)}:${to.port}` : undefined, error: errorMessage(e) };
      this.limiter.log('warn', 'dhcp.send_failed', fields, this.now());
      return;
    }
    this.limiter.log('warn', 'dhcp.transport_error', { where, error: errorMessage(e) }, this.now());
  }

  async stop(): Promise<void> {
    // Requests stop being answered first; then the leases already granted are committed and
    // their ACKs sent; then the sockets close.
    this.stopping = true;
    await this.warming;
    if (this.engine) {
      try {
        await this.writer.drain();
      } catch (e) {
        this.logger.error('dhcp.stop_failed', { error: errorMessage(e) });
      }
    }
    const transports = this.transports;
    this.transports = [];
    await Promise.all(transports.map((t) => t.close().catch(() => {})));
    clearInterval(this.guardTimer);
    if (this.guard) {
      const g = this.guard;
      this.guard = undefined;
      await g.close();
    }
    this.hosts.stop();
    this.summary.stop();
    if (!this.engine) return;
    try {
      await this.writer.close();
      await writeEngineState(this.store, this.engineState(false, this.now()));
    } catch (e) {
      this.logger.error('dhcp.stop_failed', { error: errorMessage(e) });
    }
  }

  reload(config: GatehouseConfig): void {
    const next = buildPlan(config);
    if (next.alien.start !== this.plan.alien.start || next.alien.end !== this.plan.alien.end) {
      this.logger.warn('dhcp.reload_partial', {
        reason: 'the alien range changed; restart Gatehouse to apply it',
      });
      next.alien = {
        ...next.alien,
        start: this.plan.alien.start,
        end: this.plan.alien.end,
        size: this.plan.alien.size,
      };
    }
    if (
      JSON.stringify(config.dhcp.interfaces) !== JSON.stringify(this.config.dhcp.interfaces) ||
      config.dhcp.listen !== this.config.dhcp.listen
    ) {
      this.logger.warn('dhcp.reload_partial', {
        reason: 'dhcp.interfaces/listen changed; restart Gatehouse to apply it',
      });
    }
    if (config.dhcp.ackAfterCommit !== this.ackAfterCommit) {
      this.logger.warn('dhcp.reload_partial', {
        reason: 'dhcp.ackAfterCommit changed; restart Gatehouse to apply it',
      });
    }
    this.plan = next;
    this.config = config;
    this.logLevel = LOG_LEVEL[config.log.level];
    this.configuredServerId = config.dhcp.serverId ? parseIp(config.dhcp.serverId) : undefined;
    this.floatingIds = floatingAddressesOf(config);
    this.serverIdsAt = 0;
  }

  notReady(): string | undefined {
    return this.transports.length === 0 ? 'no DHCP socket open' : undefined;
  }

  private isServerId = (addr: Ip): boolean => {
    const now = this.now();
    if (now - this.serverIdsAt > 5000) {
      const ids = new Set<Ip>([this.plan.gateway, this.plan.alien.gateway]);
      for (const t of this.transports) for (const a of t.addresses()) ids.add(a);
      if (this.configuredServerId !== undefined) ids.add(this.configuredServerId);
      this.serverIds = ids;
      this.serverIdsAt = now;
    }
    return this.serverIds.has(addr);
  };

  /** The server identifier (and source address) for a reply about `network`. */
  private serverIdFor(transport: Transport, network: Cidr, gateway: Ip, dst: Ip): Ip | undefined {
    const own = transport.addresses();
    // Sent to one of our addresses (renewal, relay, dhcping): answer from that address.
    if (own.includes(dst)) return dst;
    if (transport.iface !== undefined) {
      // HA (docs/ha.md): the floating address moves to the new primary, the gateway's own one
      // does not. As option 54 it is where RENEWING clients unicast (RFC 2131 §4.4.5), so their
      // renewals reach whichever gateway is primary instead of timing out until REBINDING.
      for (const a of this.floatingIds) if (inCidr(network, a) && own.includes(a)) return a;
      for (const a of own) if (inCidr(network, a)) return a;
      return own[0];
    }
    return this.configuredServerId ?? own[0] ?? gateway;
  }

  /** The hot path: runs to completion synchronously for each datagram. */
  handle(inbound: Inbound): void {
    if (this.stopping) return;
    const now = this.now();
    const decoded = decodePacket(inbound.payload);
    if (!decoded.ok) {
      this.malformed(decoded.reason, decoded.detail, inbound, now);
      return;
    }
    const read = readRequest(decoded.packet);
    if (!read.ok) {
      this.malformed(read.reason, read.detail, inbound, now);
      return;
    }
    const req = read.request;
    const type = req.packet.options.get(53)?.[0] ?? 0;
    this.receivedByType[type]!.n++;
    this.count(type, req, now);
    const decision = decide(this.plan, this.hosts, this.engine, {
      req,
      now,
      iface: inbound.iface,
      broadcast: inbound.broadcast,
      isServerId: this.isServerId,
    });
    const op: LeaseOp | undefined = 'lease' in decision ? decision.lease : undefined;
    if (op) this.engine.apply(op, now);
    if (decision.action === 'drop') this.dropped(decision, req.mac, inbound, now);
    else this.reply(decision, req, inbound, now);
  }

  /** The second's summary and the boot progress of a received message. */
  private count(type: number, req: DhcpRequest, now: number): void {
    const c = this.summary.c;
    this.summary.touch();
    if (type !== MSG.DISCOVER && type !== MSG.REQUEST) {
      c.other++;
      return;
    }
    if (type === MSG.DISCOVER) c.discover++;
    else c.request++;
    const ipxe = isIpxe(req);
    if (ipxe) c.ipxe++;
    else if (req.vendorClass?.startsWith('PXEClient')) c.pxe++;
    else return;
    if (this.boot && req.mac) this.boot.record(req.mac, ipxe ? 'dhcpIpxe' : 'dhcpPxe', now);
  }

  private transportFor(iface: string | undefined): Transport | undefined {
    for (const t of this.transports) if (t.iface === iface) return t;
    return undefined;
  }

  private reply(
    decision: ReplyDecision,
    req: Parameters<typeof buildReply>[1],
    inbound: Inbound,
    now: number,
  ): void {
    const transport = this.transportFor(inbound.iface);
    if (!transport) return;
    const network = decision.action === 'nak' ? decision.network : decision.profile.network;
    const gateway = network === this.plan.alien.network ? this.plan.alien.gateway : this.plan.gateway;
    const serverId = this.serverIdFor(transport, network, gateway, inbound.dst);
    if (serverId === undefined) {
      this.m.dropped.add('no-interface-address');
      this.limiter.log('warn', 'dhcp.no_interface_address', { interface: inbound.iface }, now);
      return;
    }
    const d = this.config.dhcp;
    const plan = buildReply(decision, req, serverId, { relay: d.serverPort, client: d.clientPort });
    // A relay listens where it sent from (67 in production; anything in tests and benches).
    if (plan.to.reason === 'relay' && inbound.src === plan.to.ip) plan.to.port = inbound.srcPort;
    const encoded = encodePacket(plan.message, { maxSize: plan.maxSize, headroom: IP_UDP_HEADROOM });
    const type = REPLY_TYPE[decision.action];
    const kase = decision.action === 'nak' ? decision.reason : decision.case;
    this.summary.c[decision.action]++;
    if (decision.action === 'ack' && decision.case !== 'inform' && req.mac)
      this.boot?.learnAddress(req.mac, formatIp(decision.yiaddr));
    if (decision.action === 'ack' && decision.case === 'alien' && this.ackAfterCommit) {
      // The lease row is committed before the client hears of it (see lease-store.ts): a crash
      // then never leaves a client holding an address the restarted server thinks is free.
      const to = plan.to;
      const bytes = encoded.bytes;
      const iface = inbound.iface;
      this.writer.afterCommit((error) => {
        if (error) {
          this.m.dropped.add('lease-write-failed');
          return;
        }
        this.transportFor(iface)?.send(to, serverId, bytes, IP_UDP_HEADROOM);
        this.m.replies.cell(type, kase).n++;
      });
    } else {
      transport.send(plan.to, serverId, encoded.bytes, IP_UDP_HEADROOM);
      this.m.replies.cell(type, kase).n++;
    }
    if (this.logLevel > LOG_LEVEL.info || !this.replyLimiter.allow('dhcp.reply', now)) return;
    const fields: Record<string, unknown> = {
      mac: req.mac,
      xid: req.packet.xid.toString(16),
      type,
      case: kase,
      to: `${formatIp(plan.to.ip)}:${plan.to.port}`,
      via: inbound.iface ?? 'relay-socket',
      serverId: formatIp(serverId),
    };
    if (decision.action === 'nak') {
      fields.requested = formatIp(decision.requested);
      fields.state = decision.state;
    } else {
      if (decision.case !== 'inform') fields.ip = formatIp(decision.yiaddr);
      if ('state' in decision) fields.state = decision.state;
      if ('machine' in decision) fields.host = decision.machine;
      if (decision.case === 'alien' && decision.action === 'offer') fields.why = decision.why;
      fields.file = decision.profile.bootFile;
      fields.boot = decision.profile.bootReason;
    }
    if (req.packet.giaddr) fields.giaddr = formatIp(req.packet.giaddr);
    if (req.relayAgentInfo) fields.relayAgent = relayAgentSummary(req.relayAgentInfo);
    if (encoded.dropped.length > 0) fields.optionsDropped = encoded.dropped;
    this.logger.info(`dhcp.${type.toLowerCase()}`, fields);
  }

  private dropped(
    decision: Extract<Decision, { action: 'drop' }>,
    mac: string | undefined,
    inbound: Inbound,
    now: number,
  ): void {
    this.m.dropped.cell(decision.reason).n++;
    this.summary.c.dropped++;
    if (decision.reason === 'pool-exhausted') this.m.exhausted.inc();
    const level = DROP_LEVEL[decision.reason] ?? 'debug';
    if (LOG_LEVEL[level] < this.logLevel) return;
    const fields: Record<string, unknown> = {
      reason: decision.reason,
      mac,
      via: inbound.iface ?? 'relay-socket',
      ...decision.detail,
    };
    if (decision.reason === 'pool-exhausted') {
      fields.pool = `${formatIp(this.plan.alien.start)}-${formatIp(this.plan.alien.end)}`;
      fields.hint =
        'every alien address is leased or offered; widen dhcp.alien.rangeStart/rangeEnd or shorten leases';
    }
    if (decision.reason === 'probation') fields.until = new Date(this.engine.probationEnds).toISOString();
    if (decision.lease && 'ip' in decision.lease) fields.ip = formatIp(decision.lease.ip);
    this.limiter.log(level, 'dhcp.drop', fields, now);
  }

  private malformed(reason: string, detail: string, inbound: Inbound, now: number): void {
    this.m.malformed.inc({ reason });
    this.summary.c.malformed++;
    this.summary.touch();
    this.limiter.log(
      'warn',
      'dhcp.malformed',
      {
        reason,
        detail,
        from: `${formatIp(inbound.src)}:${inbound.srcPort}`,
        via: inbound.iface ?? 'relay-socket',
      },
      now,
    );
  }
}

export function dhcpService(ctx: ServiceContext): Service | undefined {
  if (!ctx.config.dhcp.enabled) return undefined;
  return new DhcpServer({
    config: ctx.config,
    store: ctx.store,
    logger: ctx.logger,
    metrics: ctx.metrics,
    boot: bootProgressOf(ctx.services),
  });
}

function floatingAddressesOf(config: GatehouseConfig): Ip[] {
  if (!config.ha.enabled) return [];
  return config.ha.floatingAddresses.map((a) => parseIp(a)).filter((a): a is Ip => a !== undefined);
}
