import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type { GatehouseConfig } from '../config/index.js';
import { type HostPort, parseListen } from '../config/listen.js';
import { errorMessage } from '../errors.js';
import { dnsWorkerCount } from './config.js';
import { type HaRoleSource, haOf } from '../ha/service.js';
import type { Logger } from '../log.js';
import { MDB_TABLES, machinesTable } from '../mdb/model.js';
import type { Counter, Gauge, Histogram } from '../metrics.js';
import type { Service, ServiceContext } from '../service.js';
import type { ChangeEvent, Store } from '../store/index.js';
import type { TransferRequest } from './answer.js';
import { DnsEngine } from './engine.js';
import { Forwarder } from './forwarder.js';
import { Notifier } from './notify.js';
import {
  type DnsRuntimeConfig,
  type SecondaryTarget,
  makePolicy,
  notifyTargets,
  upstreamsOf,
} from './policy-config.js';
import {
  DNS_SERIALS_TABLE,
  type SerialRow,
  dnsSerialsTable,
  planSerials,
  readSerialRows,
  releaseReservations,
  writeSerialRows,
} from './serials.js';
import { type Snapshot, compileSnapshot } from './snapshot.js';
import { DnsMetrics } from './stats.js';
import { DnsTcpServer } from './tcp-server.js';
import { ixfrDiff, machinesAt, planTransfer, transferMessages } from './transfer.js';
import { DnsUdpServer } from './udp-server.js';
import { type DnsWarmupReport, warmAnswerPath } from './warmup.js';
import { WorkerPool } from './workers.js';
import { ZoneBuilder, buildZones } from './zone-builder.js';
import type { Zone } from './zone.js';

/**
 * Authoritative DNS from the store (spec §4). Every commit to `machines` schedules a rebuild:
 * zones are built from the whole table (§4.1), serials are assigned and persisted before the
 * new snapshot is served (so a restart can never hand out a smaller one), then the snapshot
 * replaces the old one in this process and in the UDP workers, and secondaries are NOTIFYed.
 * Rebuilds are coalesced: commits arriving during one cause exactly one more.
 */
export class DnsService implements Service {
  readonly name = 'dns';
  private config: GatehouseConfig;
  private readonly store: Store;
  private readonly logger: Logger;
  private snap: Snapshot | undefined;
  private engine: DnsEngine | undefined;
  private udp: DnsUdpServer | undefined;
  private tcp: DnsTcpServer | undefined;
  private pool: WorkerPool | undefined;
  private forwarder: Forwarder | undefined;
  private notifier: Notifier | undefined;
  private targets: SecondaryTarget[] = [];
  private unsubscribe: (() => void) | undefined;
  private processedSeq = 0;
  private dirty = false;
  private machinesDirty = false;
  private loop: Promise<void> | undefined;
  private generation = 0;
  private lastWarnings = new Set<string>();
  private statsTimer: NodeJS.Timeout | undefined;
  private readonly dnsMetrics: DnsMetrics;
  private readonly serialGauge: Gauge<'zone'>;
  private readonly buildSeconds: Histogram;
  private readonly transfers: Counter<'style' | 'result'>;
  private readonly tcpRejected: Counter<'reason'>;
  private readonly tcpConnections: Gauge;
  private readonly notifyResults: Counter<'result'>;
  private readonly swapListeners = new Set<(s: Snapshot) => void>();
  private readonly builder = new ZoneBuilder();
  /** Serial rows as assigned (possibly ahead of the store by a write in flight). */
  private rows: Map<string, SerialRow | undefined> | undefined;
  private persisting: Promise<void> = Promise.resolve();
  private readonly ha: HaRoleSource | undefined;
  /** The next build takes over from another gateway's serials (an HA promotion). */
  private promoting = false;
  /** The start-up warm-up (warmup.ts), here or in the UDP workers. */
  private warming: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(ctx: ServiceContext) {
    this.config = ctx.config;
    this.ha = haOf(ctx);
    this.store = ctx.store;
    this.logger = ctx.logger.child({ part: 'dns' });
    const m = ctx.metrics;
    this.dnsMetrics = new DnsMetrics(m);
    this.serialGauge = m.gauge('gatehouse_dns_zone_serial', 'Current SOA serial of each served zone', [
      'zone',
    ]);
    this.buildSeconds = m.histogram(
      'gatehouse_dns_build_seconds',
      'Time from an MDB commit batch to the new zone snapshot being served',
    );
    this.transfers = m.counter(
      'gatehouse_dns_transfers_total',
      'Zone transfers served (style axfr, ixfr or current)',
      ['style', 'result'],
    );
    this.tcpRejected = m.counter(
      'gatehouse_dns_tcp_rejected_total',
      'TCP connections refused or cut (limits, idle, unread)',
      ['reason'],
    );
    this.tcpConnections = m.gauge('gatehouse_dns_tcp_connections', 'Open DNS TCP connections');
    this.notifyResults = m.counter(
      'gatehouse_dns_notify_total',
      'NOTIFY exchanges with secondaries, by outcome',
      ['result'],
    );
  }

  private runtime(): DnsRuntimeConfig {
    return { dns: this.config.dns, network: this.config.network };
  }

  /** The snapshot being served (tests and the zone CLI read it). */
  get snapshot(): Snapshot {
    return this.snap!;
  }

  /** UDP and TCP share one port number; tests read it here. */
  get port(): number {
    return Number(this.tcpAddresses()[0]!.split(':').pop());
  }

  udpAddresses(): string[] {
    return this.pool ? this.pool.addresses() : (this.udp?.addresses() ?? []);
  }

  /** Open DNS TCP connections. */
  get tcpConnectionCount(): number {
    return this.tcp?.connectionCount ?? 0;
  }

  tcpAddresses(): string[] {
    return this.tcp?.addresses() ?? [];
  }

  /** Called after each snapshot swap (and after the workers applied it). */
  onSwap(fn: (s: Snapshot) => void): () => void {
    this.swapListeners.add(fn);
    return () => this.swapListeners.delete(fn);
  }

  async start(): Promise<void> {
    const cfg = this.runtime();
    const policy = makePolicy(cfg);
    this.targets = notifyTargets(cfg.dns);
    this.processedSeq = this.store.lastSeq;
    this.unsubscribe = this.store.subscribe((evs) => this.onEvents(evs));
    this.followHa();
    const first = await this.build(false);
    this.snap = compileSnapshot(first, ++this.generation);
    this.forwarder = policy.recursion
      ? new Forwarder(upstreamsOf(cfg.dns), { ...cfg.dns.forwarder, ednsUdpSize: cfg.dns.ednsUdpSize })
      : undefined;
    this.engine = new DnsEngine(this.snap, policy, this.forwarder, this.logger);
    if (this.targets.length > 0)
      this.notifier = new Notifier(cfg.dns.notify, this.logger, (r) =>
        this.notifyResults.inc({ result: r.result }),
      );
    try {
      await this.listen(cfg);
    } catch (e) {
      await this.stop();
      throw e;
    }
    this.statsTimer = setInterval(() => {
      if (this.engine) this.dnsMetrics.add(this.engine.stats.take());
    }, 1000);
    this.statsTimer.unref();
    for (const z of this.snap.zones) this.serialGauge.set({ zone: z.id }, z.serial);
    this.logger.info('dns.started', {
      udp: this.udpAddresses(),
      tcp: this.tcpAddresses(),
      workers: this.pool?.size ?? 0,
      zones: this.snap.zones.map((z) => `${z.id}@${z.serial}`),
    });
    // Secondaries may have missed changes while we were down.
    this.notifyAll(this.snap.zones);
    // After the sockets: a query arriving meanwhile is answered between the warm-up's windows.
    this.warming = this.warmUp(cfg);
  }

  /** Resolves once the start-up warm-up is over (tests, benches). */
  warmedUp(): Promise<void> {
    return this.warming;
  }

  /** With UDP workers the answer path is theirs (their own heaps): nothing to do here. */
  rewarm(): Promise<void> {
    if (!this.stopped && !this.pool) this.warming = this.warming.then(() => this.warmUp(this.runtime()));
    return this.warming;
  }

  /**
   * `dns.warmupQueries` synthetic queries through the UDP answer path (warmup.ts), where UDP is
   * answered: each worker runs its own, or this process. One `dns.warmed_up` line; a failure
   * costs only the warm-up.
   */
  private async warmUp(cfg: DnsRuntimeConfig): Promise<void> {
    const total = cfg.dns.warmupQueries;
    if (total === 0) return;
    let reports: DnsWarmupReport[];
    try {
      reports = this.pool
        ? await this.pool.warmedUp()
        : [await warmAnswerPath(cfg, total, { cancelled: () => this.stopped })];
    } catch (e) {
      reports = [{ queries: 0, ms: 0, error: errorMessage(e) }];
    }
    if (this.stopped || reports.length === 0) return;
    const failed = reports.find((r) => r.error !== undefined);
    if (failed) {
      this.logger.warn('dns.warmup_failed', {
        error: failed.error,
        effect: 'the first queries run slower code; nothing else is affected',
      });
      return;
    }
    const skipped = reports.find((r) => r.loopbackSkipped !== undefined)?.loopbackSkipped;
    this.logger.info('dns.warmed_up', {
      processes: reports.length,
      queries: Math.min(...reports.map((r) => r.queries)),
      warmupMs: Math.round(Math.max(...reports.map((r) => r.ms))),
      ...(skipped ? { loopbackSkipped: skipped } : {}),
    });
  }

  private async listen(cfg: DnsRuntimeConfig): Promise<void> {
    const addrs = cfg.dns.listen.map(parseListen);
    this.tcp = new DnsTcpServer(this.engine!, this.logger, cfg.dns.tcp, (req) => this.transfer(req), {
      rejected: (reason) => this.tcpRejected.inc({ reason }),
      connections: (d) => this.tcpConnections.inc(d),
    });
    await this.tcp.listen(addrs);
    // Port 0 (tests): UDP takes the port the kernel gave TCP, so one port number serves both.
    const bound: HostPort[] = this.tcp.addresses().map(parseListen);
    const workers = dnsWorkerCount(cfg.dns.workers, os.availableParallelism());
    if (workers > 0) {
      this.pool = new WorkerPool(workers, this.logger, (d) => this.dnsMetrics.add(d));
      await this.pool.start(cfg, bound, this.snap!.zones, this.generation);
    } else {
      this.udp = new DnsUdpServer(this.engine!, this.logger);
      await this.udp.listen(bound);
    }
  }

  private standby(): boolean {
    return this.ha?.currentRole === 'standby';
  }

  /**
   * HA (docs/ha.md "DNS serials"): a standby serves the serials the primary assigned — its
   * replicated `dns_serials` rows, re-read when they arrive — and never writes its own. A
   * promotion rebuilds as after a crash of the old primary: a zone whose row still holds a
   * reservation moves past it, so no serial the old primary may have served comes back.
   */
  private followHa(): void {
    const ha = this.ha;
    if (!ha) return;
    const unfollow = ha.onReplicated((tables) => {
      if (tables.has(DNS_SERIALS_TABLE) && this.standby()) this.schedule();
    });
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = () => {
      unfollow();
      unsubscribe?.();
    };
    ha.onRole(async (role) => {
      if (role !== 'primary' || !this.engine) return;
      this.promoting = true;
      this.schedule();
      await this.settled();
    });
  }

  private onEvents(evs: readonly ChangeEvent[]): void {
    const last = evs[evs.length - 1];
    if (last && last.seq > this.processedSeq) this.processedSeq = last.seq;
    if (!evs.some((e) => e.table === MDB_TABLES.machines)) return;
    this.machinesDirty = true;
    this.schedule();
  }

  private schedule(): void {
    this.dirty = true;
    if (this.loop || !this.engine) return;
    this.loop = this.runLoop().finally(() => {
      this.loop = undefined;
    });
  }

  private async runLoop(): Promise<void> {
    while (this.dirty && this.engine) {
      this.dirty = false;
      const bump = this.machinesDirty;
      this.machinesDirty = false;
      try {
        await this.rebuild(bump);
      } catch (e) {
        this.logger.error('dns.rebuild_failed', { error: e });
      }
    }
  }

  /** Waits until no rebuild is pending (tests, reload). */
  async settled(): Promise<void> {
    while (this.loop) await this.loop;
  }

  /**
   * Builds zones and assigns serials. Rows are written behind the swap unless a serial passes
   * its reservation (RESERVE_AHEAD), in which case the commit is awaited first: a crash can
   * then never make us reuse a served serial for different content.
   */
  private async build(machinesCommitted: boolean): Promise<Zone[]> {
    const { machines, seq } = this.store.read((tx) => {
      const machines = tx.values(machinesTable(this.store));
      // The sequence the read reflects: the change log seen by the same synchronous read.
      const tail = this.store.changesSince(this.processedSeq);
      const seq =
        tail === undefined
          ? this.store.lastSeq
          : tail.length > 0
            ? tail[tail.length - 1]!.seq
            : this.processedSeq;
      return { machines, seq };
    });
    const { zones: contents, warnings } = this.builder.build({
      machines,
      network: this.config.network,
      dns: this.config.dns,
    });
    const fresh = warnings.filter((w) => !this.lastWarnings.has(w));
    if (fresh.length > 0)
      this.logger.warn('dns.zone_warnings', { warnings: fresh.slice(0, 50), total: warnings.length });
    this.lastWarnings = new Set(warnings);
    const standby = this.standby();
    const promoting = this.promoting;
    this.promoting = false;
    const afterRestart = !standby && (this.rows === undefined || promoting);
    const stored = () =>
      this.store.read((tx) =>
        readSerialRows(
          tx,
          contents.map((c) => c.id),
        ),
      );
    // A standby serves the primary's serials (its guess for content not yet given one is the
    // next serial); a promotion plans from them as after the old primary's crash.
    const rows = standby || promoting ? stored() : (this.rows ?? stored());
    const plan = planSerials(contents, rows, {
      seq,
      bumpGenerated: machinesCommitted && this.config.dns.serialBump === 'all-zones',
      afterRestart,
    });
    const next = new Map<string, SerialRow | undefined>(rows);
    for (const [id, row] of plan.writes) next.set(id, row);
    this.rows = next;
    if (standby) return plan.zones;
    if (plan.writes.size === 0) return plan.zones;
    const written = this.persist(plan.writes);
    if (plan.mustPersist) await written;
    return plan.zones;
  }

  /** A gateway demoted with a write in flight: the primary's rows replicate (src/ha). */
  private serialWriteFailed(e: unknown): void {
    if ((e as { code?: unknown }).code === 'GH_HA_STANDBY') this.logger.debug('dns.serial_write_standby', {});
    else this.logger.error('dns.serial_write_failed', { error: e });
  }

  /** Serial rows are written in order, one transaction per build. */
  private persist(writes: Map<string, SerialRow>): Promise<void> {
    this.persisting = this.persisting
      .then(() => this.store.write((tx) => writeSerialRows(tx, writes)))
      .then(
        () => {},
        (e: unknown) => this.serialWriteFailed(e),
      );
    return this.persisting;
  }

  private async rebuild(machinesCommitted: boolean): Promise<void> {
    const t0 = performance.now();
    const zones = await this.build(machinesCommitted);
    const previous = new Map(this.snap!.zones.map((z) => [z.id, z]));
    const changed = zones.filter(
      (z) => previous.get(z.id)?.serial !== z.serial || previous.get(z.id)?.hash !== z.hash,
    );
    if (changed.length === 0 && zones.length === previous.size) return;
    const snap = compileSnapshot(zones, ++this.generation, this.snap);
    this.snap = snap;
    this.engine!.snapshot = snap;
    if (this.pool) await this.pool.broadcast(zones, snap.generation);
    const ms = performance.now() - t0;
    this.buildSeconds.observe(ms / 1000);
    for (const z of changed) this.serialGauge.set({ zone: z.id }, z.serial);
    this.logger.info('dns.zones_built', {
      generation: snap.generation,
      ms: Math.round(ms * 10) / 10,
      changed: changed.map((z) => `${z.id}@${z.serial}`),
    });
    for (const fn of this.swapListeners) fn(snap);
    this.notifyAll(changed);
  }

  private notifyAll(zones: readonly Zone[]): void {
    if (!this.notifier) return;
    for (const z of zones) {
      for (const t of this.targets) {
        if (t.view !== z.view) continue;
        if (t.zones ? !t.zones.has(z.name) : !z.generated) continue;
        void this.notifier.notify(z, t);
      }
    }
  }

  /** AXFR/IXFR stream for a TCP request the policy allowed. */
  private transfer(req: TransferRequest): Buffer[] {
    const zone = req.zone.zone;
    let diff: ReturnType<typeof ixfrDiff>;
    if (req.kind === 'ixfr' && req.clientSerial !== undefined && req.clientSerial !== zone.serial) {
      const row = this.rows?.get(zone.id) ?? this.store.read((tx) => tx.get(dnsSerialsTable, zone.id));
      const entry = row?.history.find((h) => h.serial === req.clientSerial);
      if (entry) {
        const { current, events } = this.store.read((tx) => ({
          current: tx.values(machinesTable(this.store)),
          events: this.store.changesSince(entry.seq, [MDB_TABLES.machines]),
        }));
        if (events) {
          const old = buildZones({
            machines: machinesAt(current, events),
            network: this.config.network,
            dns: this.config.dns,
          }).zones.find((z) => z.id === zone.id);
          diff = ixfrDiff(old, entry.hash, zone, req.clientSerial);
        }
      }
    }
    const plan = planTransfer(req, zone, diff);
    const messages = transferMessages(req, plan, {
      maxBytes: this.config.dns.transferMessageBytes,
      now: Math.floor(Date.now() / 1000),
      ednsSize: req.message.edns ? this.config.dns.ednsUdpSize : undefined,
    });
    this.transfers.inc({ style: plan.style, result: 'ok' });
    this.logger.info('dns.transfer', {
      peer: req.peer,
      zone: zone.id,
      asked: req.kind,
      style: plan.style,
      fromSerial: req.clientSerial,
      serial: zone.serial,
      records: plan.records.length,
      messages: messages.length,
      tsig: req.key?.name,
    });
    return messages;
  }

  async reload(config: GatehouseConfig): Promise<void> {
    const before = JSON.stringify(this.config.dns.listen) + this.config.dns.workers;
    this.config = config;
    const cfg = this.runtime();
    const policy = makePolicy(cfg);
    this.targets = notifyTargets(cfg.dns);
    if (before !== JSON.stringify(config.dns.listen) + config.dns.workers) {
      this.logger.warn('dns.reload_partial', {
        reason: 'dns.listen and dns.workers apply at the next restart',
      });
    }
    this.forwarder?.close();
    this.forwarder = policy.recursion
      ? new Forwarder(upstreamsOf(cfg.dns), { ...cfg.dns.forwarder, ednsUdpSize: cfg.dns.ednsUdpSize })
      : undefined;
    if (this.engine) {
      this.engine.policy = policy;
      this.engine.forwarder = this.forwarder;
    }
    if (this.tcp) this.tcp.limits = cfg.dns.tcp;
    if (this.targets.length > 0 && !this.notifier) {
      this.notifier = new Notifier(cfg.dns.notify, this.logger, (r) =>
        this.notifyResults.inc({ result: r.result }),
      );
    }
    this.pool?.reconfigure(cfg);
    // Static records, bootstrap names or the network plan may have changed.
    this.schedule();
    await this.settled();
  }

  notReady(): string | undefined {
    return this.snap ? undefined : 'zones not built yet';
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.statsTimer) clearInterval(this.statsTimer);
    const engine = this.engine;
    this.engine = undefined;
    await this.loop?.catch(() => {});
    await this.persisting;
    const rows = this.rows;
    if (rows && !this.standby()) {
      const served = new Map([...rows].filter((e): e is [string, SerialRow] => e[1] !== undefined));
      await this.store
        .write((tx) => releaseReservations(tx, served))
        .catch((e: unknown) => this.serialWriteFailed(e));
    }
    await this.udp?.close();
    await this.tcp?.close();
    await this.pool?.stop();
    this.forwarder?.close();
    this.notifier?.close();
    if (engine) this.dnsMetrics.add(engine.stats.take());
    // Its throwaway sockets close as it sees `stopped` (a worker's went with the worker).
    await this.warming;
  }
}

export function dnsServiceFactory(ctx: ServiceContext): Service | undefined {
  return ctx.config.dns.enabled ? new DnsService(ctx) : undefined;
}
