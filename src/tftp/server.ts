/**
 * The TFTP server: one listening socket per configured address, one connected ephemeral socket
 * per transfer bound to the same local address (so replies leave from the address the client
 * talked to: the gateway answers on 192.168.1.254 and 192.168.250.254 alike), one shared timer.
 *
 * Hostile clients (see docs/tftp.md): admission goes through a SlotTable (slots.ts) where a
 * transfer whose client has never acknowledged anything is "unconfirmed" and is the first to go
 * when a limit is reached, even while its file is still being opened. A flood of read requests
 * that are never acknowledged only ever evicts its own kind; dnsmasq stays locked for minutes.
 */
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { parseListen } from '../config/listen.js';
import { errorMessage, GatehouseError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { decodePacket, encodeError, type RequestPacket } from './codec.js';
import type { TftpConfig } from './config.js';
import { FileCache, type FileSource } from './file-cache.js';
import { LogLimiter } from './log-limiter.js';
import { TftpMetrics } from './metrics.js';
import { checkRequest, planTransfer, type Refusal } from './policy.js';
import { Session, type SessionHooks, type TransferResult } from './session.js';
import { type Slot, SlotTable } from './slots.js';
import { TimerWheel } from './timer-wheel.js';

interface Listener {
  socket: dgram.Socket;
  /** The configured host: transfer sockets bind to it. */
  host: string;
  family: 'udp4' | 'udp6';
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
  private readonly slots: SlotTable<Session>;
  private readonly slotOf = new Map<Session, Slot<Session>>();
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
    this.slots = new SlotTable(config);
    this.wheel = new TimerWheel<Session>(config.timerTickMs, this.now());
    this.hooks = {
      now: this.now,
      schedule: (s) => {
        this.wheel.schedule(s);
        this.ensureTicking();
      },
      confirmed: (s) => {
        const slot = this.slotOf.get(s);
        if (slot) this.slots.confirm(slot);
      },
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

  /** Transfers running or being set up. */
  get activeTransfers(): number {
    return this.slots.size;
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
    this.slots.setLimits(config);
    this.metrics.cacheBytes.set(this.cache.stats().bytes);
  }

  get root(): string {
    return this.cfg.root;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const slot of this.slots.slots()) {
      if (slot.owner) slot.owner.finish('shutdown');
      else this.slots.release(slot);
    }
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
    const client = `${rinfo.address}:${rinfo.port}`;
    const key = `${listener.host}|${client}`;
    if (this.slots.has(key)) {
      // The client retransmitted its RRQ before our first reply arrived: our own timer resends.
      this.metrics.duplicates.inc();
      return;
    }
    const checked = checkRequest(req);
    if (checked.kind === 'refuse') {
      this.refuse(listener, rinfo, req, checked);
      return;
    }
    const admission = this.slots.admit(rinfo.address, key);
    if (admission.kind === 'refused') {
      // Dropped without a reply: a PXE ROM retransmits its RRQ, an error would abort its boot.
      this.metrics.refused.inc({ reason: admission.reason });
      this.limited.log('info', 'tftp.request_dropped', {
        client,
        file: req.filename.slice(0, 200),
        reason: admission.reason,
      });
      return;
    }
    for (const victim of admission.evicted) this.evict(victim);
    const slot = admission.slot;
    this.metrics.active.set(this.slots.size);
    let source: FileSource | undefined;
    let socket: dgram.Socket | undefined;
    try {
      const opened = await this.cache.open(this.cfg.root, checked.relative, checked.mode);
      if (opened.kind === 'found') source = opened.source;
      if (slot.released) return; // evicted while the file was being opened
      if (opened.kind === 'unavailable') {
        // Dropped without a reply, like a full server: the client retransmits its request.
        this.metrics.refused.inc({ reason: 'fd-exhausted' });
        this.limited.log('warn', 'tftp.fd_exhausted', {
          client,
          note: 'raise LimitNOFILE or lower tftp.maxTransfers',
        });
        return;
      }
      this.metrics.cacheBytes.set(this.cache.stats().bytes);
      if (opened.kind === 'found') this.metrics.cacheLookups.inc({ result: opened.cache });
      const lookup = opened.kind === 'found' ? { kind: 'found' as const, size: opened.source.size } : opened;
      const plan = planTransfer(req.options, lookup, this.cfg);
      if (plan.kind === 'refuse' || !source) {
        if (plan.kind === 'refuse') this.refuse(listener, rinfo, req, plan);
        return;
      }
      try {
        socket = await this.openTransferSocket(listener, rinfo);
      } catch (e) {
        this.metrics.refused.inc({ reason: 'socket-failed' });
        this.limited.log('warn', 'tftp.socket_failed', { client, error: errorMessage(e) });
        return;
      }
      if (slot.released || this.stopped) return;
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
        source,
        this.hooks,
      );
      slot.owner = session;
      this.slotOf.set(session, slot);
      socket = undefined;
      source = undefined;
      session.start();
    } finally {
      // Anything not handed to a session is ours to free.
      if (socket) closeQuietly(socket);
      source?.close();
      if (!slot.owner) {
        this.slots.release(slot);
        this.metrics.active.set(this.slots.size);
      }
    }
  }

  /** Stops an evicted transfer (or one still being set up: it notices `released` and stops itself). */
  private evict(victim: Slot<Session>): void {
    if (victim.owner) {
      victim.owner.finish('evicted');
      return;
    }
    this.metrics.transfers.inc({ result: 'evicted' });
    this.limited.log('info', 'tftp.transfer', {
      client: victim.key.split('|')[1],
      result: 'evicted',
      stage: 'setup',
    });
  }

  private openTransferSocket(listener: Listener, rinfo: dgram.RemoteInfo): Promise<dgram.Socket> {
    const socket = dgram.createSocket({ type: listener.family });
    return new Promise<dgram.Socket>((resolve, reject) => {
      const fail = (e: Error) => {
        closeQuietly(socket);
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

  private onFinished(s: Session, result: TransferResult, detail?: Record<string, unknown>): void {
    const slot = this.slotOf.get(s);
    this.slotOf.delete(s);
    const wasConfirmed = slot?.confirmed ?? false;
    if (slot) this.slots.release(slot);
    this.wheel.remove(s);
    const { address, port } = s.info.client;
    this.metrics.active.set(this.slots.size);
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
    if (this.stopped) return; // the listening socket may already be closed
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

function closeQuietly(socket: dgram.Socket): void {
  try {
    socket.close();
  } catch {
    // never bound, or already closed
  }
}
