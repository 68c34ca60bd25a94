/**
 * The TFTP server: one listening socket per configured address, one connected ephemeral socket
 * per transfer bound to the same local address (so replies leave from the address the client
 * talked to: the gateway answers on 192.168.1.254 and 192.168.250.254 alike), one shared timer.
 *
 * Hostile clients (see docs/tftp.md): a transfer whose client has never acknowledged anything is
 * "unconfirmed" and is the first to go when a limit is reached. A flood of read requests that
 * are never acknowledged, spoofed or not, only ever evicts its own kind: a real PXE ROM
 * acknowledges within a millisecond and keeps its slot. dnsmasq stays locked for minutes there.
 */
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { parseListen } from '../config/listen.js';
import { errorMessage, GatehouseError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { decodePacket, encodeError, type RequestPacket } from './codec.js';
import type { TftpConfig } from './config.js';
import { FileCache } from './file-cache.js';
import { LogLimiter } from './log-limiter.js';
import { TftpMetrics } from './metrics.js';
import { checkRequest, planTransfer, type Refusal } from './policy.js';
import { Session, type SessionHooks, type TransferResult } from './session.js';
import { TimerWheel } from './timer-wheel.js';

interface Listener {
  socket: dgram.Socket;
  /** The configured host: transfer sockets bind to it. */
  host: string;
  family: 'udp4' | 'udp6';
}

/** Per-client bookkeeping: transfers in progress (insertion order = age) and set-ups under way. */
interface ClientSlots {
  sessions: Set<Session>;
  pending: number;
}

const LISTEN_RCVBUF = 4 * 1024 * 1024;

export class TftpServer {
  private cfg: TftpConfig;
  private readonly cache: FileCache;
  private readonly metrics: TftpMetrics;
  private readonly limited: LogLimiter;
  private readonly listeners: Listener[] = [];
  private readonly wheel: TimerWheel<Session>;
  private ticker: NodeJS.Timeout | undefined;
  private readonly sessions = new Set<Session>();
  /** Sessions not yet acknowledged by their client, oldest first: eviction candidates. */
  private readonly unconfirmed = new Set<Session>();
  private readonly clients = new Map<string, ClientSlots>();
  /** `local|address|port` of transfers starting or running, to ignore retransmitted RRQs. */
  private readonly peers = new Set<string>();
  private pending = 0;
  private stopped = false;
  private readonly hooks: SessionHooks;

  constructor(
    config: TftpConfig,
    private readonly logger: Logger,
    metrics: Metrics,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.cfg = config;
    this.cache = new FileCache(config.cacheBytes);
    this.metrics = new TftpMetrics(metrics);
    this.limited = new LogLimiter(logger);
    this.wheel = new TimerWheel<Session>(config.timerTickMs, this.now());
    this.hooks = {
      now: this.now,
      schedule: (s) => {
        this.wheel.schedule(s);
        this.ensureTicking();
      },
      confirmed: (s) => this.unconfirmed.delete(s),
      sent: (bytes) => this.metrics.sentBytes.inc(bytes),
      retransmitted: (blocks) => {
        if (blocks > 0) this.metrics.retransmittedBlocks.inc(blocks);
      },
      malformed: (reason) => this.malformed(reason, undefined),
      finished: (s, result, detail) => this.onFinished(s, result, detail),
    };
  }

  async start(): Promise<void> {
    for (const entry of this.cfg.listen) {
      const { host, port } = parseListen(entry);
      const family = isIPv6(host) ? 'udp6' : 'udp4';
      const socket = dgram.createSocket({ type: family });
      const listener: Listener = { socket, host, family };
      try {
        await new Promise<void>((resolve, reject) => {
          socket.once('error', reject);
          socket.bind({ address: host, port, exclusive: true }, () => {
            socket.off('error', reject);
            resolve();
          });
        });
      } catch (e) {
        socket.close();
        await this.stop();
        throw new GatehouseError(
          'GH_LISTEN_FAILED',
          `tftp: cannot listen on ${entry} (${errorMessage(e)}); pick a free address:port in tftp.listen ` +
            '(port 69 needs root or CAP_NET_BIND_SERVICE)',
          { listen: entry },
        );
      }
      try {
        // A boot storm arrives at once; the default buffer holds ~200 requests.
        socket.setRecvBufferSize(LISTEN_RCVBUF);
      } catch {
        // capped by net.core.rmem_max: keep the default
      }
      socket.on('message', (msg, rinfo) => {
        try {
          this.onRequestDatagram(listener, msg, rinfo);
        } catch (e) {
          this.logger.error('tftp.internal_error', { error: errorMessage(e) });
        }
      });
      socket.on('error', (e) =>
        this.limited.log('warn', 'tftp.listener_error', { error: e.message, listen: entry }),
      );
      this.listeners.push(listener);
    }
  }

  /** Bound addresses (port 0 in config = kernel-chosen port). */
  addresses(): Array<{ address: string; port: number }> {
    return this.listeners.map((l) => {
      const a = l.socket.address();
      return { address: a.address, port: a.port };
    });
  }

  get activeTransfers(): number {
    return this.sessions.size + this.pending;
  }

  cacheStats() {
    return this.cache.stats();
  }

  /** Applies what can change without rebinding; a changed listen list needs a restart. */
  reload(config: TftpConfig): void {
    if (config.listen.join(',') !== this.cfg.listen.join(',')) {
      this.logger.warn('tftp.reload_listen_ignored', {
        listen: config.listen,
        note: 'restart to change tftp.listen',
      });
    }
    this.cfg = { ...config, listen: this.cfg.listen, timerTickMs: this.cfg.timerTickMs };
    this.cache.setMaxBytes(config.cacheBytes);
    this.metrics.cacheBytes.set(this.cache.stats().bytes);
  }

  get root(): string {
    return this.cfg.root;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const s of [...this.sessions]) s.finish('shutdown');
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
    await Promise.all(
      this.listeners.splice(0).map((l) => new Promise<void>((resolve) => l.socket.close(() => resolve()))),
    );
    this.cache.clear();
  }

  private onRequestDatagram(listener: Listener, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const decoded = decodePacket(msg);
    if (!decoded.ok) {
      this.malformed(decoded.error.reason, rinfo);
      return;
    }
    const p = decoded.packet;
    if (p.op !== 'RRQ' && p.op !== 'WRQ') {
      // DATA/ACK/ERROR/OACK belong on a transfer's port, not on the listening one.
      this.malformed(`stray-${p.op.toLowerCase()}`, rinfo);
      return;
    }
    this.metrics.requests.inc({ op: p.op.toLowerCase() });
    void this.handleRequest(listener, p, rinfo).catch((e) =>
      this.logger.error('tftp.internal_error', {
        error: errorMessage(e),
        client: `${rinfo.address}:${rinfo.port}`,
      }),
    );
  }

  private async handleRequest(
    listener: Listener,
    req: RequestPacket,
    rinfo: dgram.RemoteInfo,
  ): Promise<void> {
    if (this.stopped) return;
    const peer = `${listener.host}|${rinfo.address}|${rinfo.port}`;
    if (this.peers.has(peer)) {
      // The client retransmitted its RRQ before our first reply arrived: our own timer resends.
      this.metrics.duplicates.inc();
      return;
    }
    const checked = checkRequest(req);
    if (checked.kind === 'refuse') {
      this.refuse(listener, rinfo, req, checked);
      return;
    }
    const slotRefusal = this.reserveSlot(rinfo.address);
    if (slotRefusal) {
      // Dropped without a reply: a PXE ROM retransmits its RRQ, an error would abort its boot.
      this.metrics.refused.inc({ reason: slotRefusal });
      this.limited.log('info', 'tftp.request_dropped', {
        client: `${rinfo.address}:${rinfo.port}`,
        file: req.filename.slice(0, 200),
        reason: slotRefusal,
      });
      return;
    }
    this.peers.add(peer);
    let handedOver = false;
    try {
      const opened = await this.cache.open(this.cfg.root, checked.relative, checked.mode);
      this.metrics.cacheBytes.set(this.cache.stats().bytes);
      if (opened.kind === 'found') this.metrics.cacheLookups.inc({ result: opened.cache });
      const lookup = opened.kind === 'found' ? { kind: 'found' as const, size: opened.source.size } : opened;
      const plan = planTransfer(req.options, lookup, this.cfg);
      if (plan.kind === 'refuse') {
        if (opened.kind === 'found') opened.source.close();
        this.refuse(listener, rinfo, req, plan);
        return;
      }
      if (opened.kind !== 'found') return; // unreachable: planTransfer refuses every other lookup
      let socket: dgram.Socket;
      try {
        socket = await this.openTransferSocket(listener, rinfo);
      } catch (e) {
        opened.source.close();
        this.metrics.refused.inc({ reason: 'socket-failed' });
        this.limited.log('warn', 'tftp.socket_failed', {
          client: `${rinfo.address}:${rinfo.port}`,
          error: errorMessage(e),
        });
        return;
      }
      if (this.stopped) {
        socket.close();
        opened.source.close();
        return;
      }
      const session = new Session(
        {
          client: { address: rinfo.address, port: rinfo.port },
          local: listener.host,
          file: checked.relative,
          mode: checked.mode,
          blksize: plan.blksize,
          windowsize: plan.windowsize,
          timeoutMs: plan.timeoutMs,
          maxTimeoutMs: this.cfg.maxTimeoutMs,
          retries: this.cfg.retries,
          maxTransferMs: this.cfg.maxTransferMs,
          oack: plan.oack,
        },
        socket,
        opened.source,
        this.hooks,
      );
      this.pending--;
      this.clientSlots(rinfo.address).pending--;
      handedOver = true;
      this.sessions.add(session);
      this.unconfirmed.add(session);
      this.clientSlots(rinfo.address).sessions.add(session);
      session.start();
    } finally {
      if (!handedOver) {
        this.pending--;
        this.releaseClient(rinfo.address, -1);
        this.peers.delete(peer);
        this.metrics.active.set(this.activeTransfers);
      }
    }
  }

  private openTransferSocket(listener: Listener, rinfo: dgram.RemoteInfo): Promise<dgram.Socket> {
    const socket = dgram.createSocket({ type: listener.family });
    return new Promise<dgram.Socket>((resolve, reject) => {
      const fail = (e: Error) => {
        try {
          socket.close();
        } catch {
          // not open
        }
        reject(e);
      };
      socket.once('error', fail);
      socket.bind({ address: listener.host, port: 0 }, () => {
        socket.connect(rinfo.port, rinfo.address, () => {
          socket.off('error', fail);
          resolve(socket);
        });
      });
    });
  }

  /** Takes a slot for a new transfer, evicting an unconfirmed one if needed; else the refusal reason. */
  private reserveSlot(address: string): string | undefined {
    const slots = this.clientSlots(address);
    if (slots.sessions.size + slots.pending >= this.cfg.maxTransfersPerClient) {
      const victim = firstUnconfirmed(slots.sessions, this.unconfirmed);
      if (!victim) {
        this.dropEmptyClient(address, slots);
        return 'client-limit';
      }
      victim.finish('evicted');
    }
    if (this.activeTransfers >= this.cfg.maxTransfers) {
      const victim = this.unconfirmed.values().next().value as Session | undefined;
      if (!victim) {
        const current = this.clients.get(address);
        if (current) this.dropEmptyClient(address, current);
        return 'busy';
      }
      victim.finish('evicted');
    }
    this.pending++;
    // Evictions above may have dropped this client's entry: look it up again.
    this.clientSlots(address).pending++;
    this.metrics.active.set(this.activeTransfers);
    return undefined;
  }

  private clientSlots(address: string): ClientSlots {
    let slots = this.clients.get(address);
    if (!slots) {
      slots = { sessions: new Set(), pending: 0 };
      this.clients.set(address, slots);
    }
    return slots;
  }

  private dropEmptyClient(address: string, slots: ClientSlots): void {
    if (slots.sessions.size === 0 && slots.pending === 0) this.clients.delete(address);
  }

  private releaseClient(address: string, pendingDelta: number, session?: Session): void {
    const slots = this.clients.get(address);
    if (!slots) return;
    slots.pending += pendingDelta;
    if (session) slots.sessions.delete(session);
    this.dropEmptyClient(address, slots);
  }

  private onFinished(s: Session, result: TransferResult, detail?: Record<string, unknown>): void {
    const wasConfirmed = !this.unconfirmed.delete(s);
    this.sessions.delete(s);
    this.wheel.remove(s);
    const { address, port } = s.info.client;
    this.releaseClient(address, 0, s);
    this.peers.delete(`${s.info.local}|${address}|${port}`);
    this.metrics.active.set(this.activeTransfers);
    this.metrics.transfers.inc({ result });
    const seconds = (this.now() - s.startedAt) / 1000;
    this.metrics.duration.observe({ result }, seconds);
    const fields = {
      client: `${address}:${port}`,
      local: s.info.local,
      file: s.info.file,
      mode: s.info.mode,
      bytes: s.state.bytesAcked,
      size: s.state.p.size,
      blksize: s.info.blksize,
      windowsize: s.info.windowsize,
      durationMs: Math.round(seconds * 1000),
      retransmittedBlocks: s.state.retransmittedBlocks,
      result,
      ...detail,
    };
    // A client that never acknowledged anything may be a flood of spoofed requests: rate-limit those.
    if (wasConfirmed || result === 'shutdown') this.logger.info('tftp.transfer', fields);
    else this.limited.log('info', 'tftp.transfer', fields);
  }

  private refuse(listener: Listener, rinfo: dgram.RemoteInfo, req: RequestPacket, r: Refusal): void {
    this.metrics.refused.inc({ reason: r.reason });
    this.limited.log('info', 'tftp.transfer', {
      client: `${rinfo.address}:${rinfo.port}`,
      local: listener.host,
      op: req.op,
      file: req.filename.slice(0, 200),
      result: 'refused',
      reason: r.reason,
      errorCode: r.code,
      ...(r.reason === 'no-root' ? { root: this.cfg.root } : {}),
    });
    // Sent from the listening socket: a refusal ends the exchange, so no transfer port is needed,
    // and a flood of bad requests costs no sockets. tftp-hpa, atftp and curl accept it.
    listener.socket.send(encodeError(r.code, r.message), rinfo.port, rinfo.address);
  }

  private malformed(reason: string, rinfo: dgram.RemoteInfo | undefined): void {
    this.metrics.malformed.inc({ reason });
    this.limited.log('debug', 'tftp.malformed', {
      reason,
      ...(rinfo ? { client: `${rinfo.address}:${rinfo.port}` } : {}),
    });
  }

  private ensureTicking(): void {
    if (this.ticker || this.stopped) return;
    this.ticker = setInterval(() => this.tick(), this.cfg.timerTickMs);
  }

  private tick(): void {
    const now = this.now();
    this.wheel.advance(now, (s) => {
      try {
        s.onTimer(now);
      } catch (e) {
        s.finish('socket-error', { error: errorMessage(e) });
      }
    });
    if (this.wheel.size === 0 && this.ticker) {
      clearInterval(this.ticker);
      this.ticker = undefined;
    }
  }
}

function firstUnconfirmed(sessions: Set<Session>, unconfirmed: Set<Session>): Session | undefined {
  for (const s of sessions) if (unconfirmed.has(s)) return s;
  return undefined;
}
