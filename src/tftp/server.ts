/**
 * The TFTP server: one listening socket per configured address, one connected ephemeral socket
 * per transfer bound to the same local address (so replies leave from the address the client
 * talked to: the gateway answers on 192.168.1.254 and 192.168.250.254 alike).
 *
 * Threads (`tftp.workers`): the main thread owns the listening sockets, decodes and checks every
 * request, admits it, opens the file through the shared cache and negotiates options; the
 * transfer itself (socket, DATA/ACK loop, retransmission timer) runs in a worker thread
 * (worker-pool.ts, transfer-worker.ts) or, with `workers: 1` and for files too big for the
 * cache, on the main thread (runner.ts). Whatever runs it, the transfer's log line and metrics
 * are written here, once, when it reports its end.
 *
 * Hostile clients (see docs/tftp.md): admission goes through a SlotTable (slots.ts) where a
 * transfer whose client has never acknowledged anything is "unconfirmed" and is the first to go
 * when a limit is reached, even while its file is still being opened. A flood of read requests
 * that are never acknowledged only ever evicts its own kind; dnsmasq stays locked for minutes.
 */
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { BootProgress } from '../boot/progress.js';
import { PeriodSummary } from '../log-summary.js';
import type { Worker } from 'node:worker_threads';
import { parseListen } from '../config/listen.js';
import { errorMessage, GatehouseError } from '../errors.js';
import { type LogFields, type Logger, silentLogger } from '../log.js';
import { Metrics } from '../metrics.js';
import { type UdpFastPath, udpFastPath } from '../net/udp-fast-path.js';
import { type DecodeError, decodePacket, encodeError, type RequestPacket } from './codec.js';
import { type TftpConfig, workerCount } from './config.js';
import { FileCache, type FileSource } from './file-cache.js';
import { LogLimiter } from './log-limiter.js';
import { TftpMetrics } from './metrics.js';
import {
  checkRequest,
  isRequestShaped,
  malformedRequestReply,
  planTransfer,
  type Refusal,
} from './policy.js';
import { ReplyLimiter } from './reply-limiter.js';
import { type RunnerEvents, TransferRunner, type TransferSpec } from './runner.js';
import type { TransferResult } from './session.js';
import { type Slot, SlotTable } from './slots.js';
import { warmInSlices } from './warmup.js';
import { type RequestWarmupReport, warmRequestPath } from './request-warmup.js';
import { type PoolEvents, WorkerPool, type WarmupReport } from './worker-pool.js';
import type { StatsDelta } from './worker-protocol.js';

interface Listener {
  socket: dgram.Socket;
  fast: UdpFastPath | undefined;
  /** The configured host: transfer sockets bind to it. */
  host: string;
  family: 'udp4' | 'udp6';
}

interface Peer {
  address: string;
  port: number;
}

/** An admitted transfer handed to a runner (here or in a worker). */
interface Transfer {
  spec: TransferSpec;
  slot: Slot<Transfer>;
  startedAt: number;
  inWorker: boolean;
}

export interface TftpServerOptions {
  now?: () => number;
  /** The worker entry module; defaults to transfer-worker beside this module (.ts or .js alike). */
  workerUrl?: URL;
  /** Boot progress (src/boot): a completed transfer is the client's `tftpDone`. */
  boot?: BootProgress;
}

const LISTEN_RCVBUF = 4 * 1024 * 1024;

function defaultWorkerUrl(): URL {
  const ext = /\.[cm]?[jt]s$/.exec(new URL(import.meta.url).pathname)?.[0] ?? '.js';
  return new URL(`./transfer-worker${ext}`, import.meta.url);
}

export class TftpServer {
  private cfg: TftpConfig;
  private readonly cache: FileCache;
  private readonly metrics: TftpMetrics;
  private readonly limited: LogLimiter;
  private readonly replies: ReplyLimiter;
  private readonly listeners: Listener[] = [];
  private readonly slots: SlotTable<Transfer>;
  private readonly transfers = new Map<number, Transfer>();
  private readonly local: TransferRunner;
  private pool: WorkerPool | undefined;
  private nextId = 1;
  private stopped = false;
  private started = false;
  /** The start-up warm-up (kept workers, or the main thread with `workers: 1`). */
  private warming: Promise<void> = Promise.resolve();
  private readonly now: () => number;
  private readonly workerUrl: URL;
  private readonly boot: BootProgress | undefined;
  /** `tftp.summary`: transfers ended each second (the per-transfer lines stay). */
  private readonly summary: PeriodSummary<{ ok: number; failed: number; bytes: number }>;

  constructor(
    config: TftpConfig,
    private readonly logger: Logger,
    metrics: Metrics,
    options: TftpServerOptions = {},
  ) {
    this.cfg = config;
    this.now = options.now ?? (() => performance.now());
    this.workerUrl = options.workerUrl ?? defaultWorkerUrl();
    this.boot = options.boot;
    this.summary = new PeriodSummary(logger, 'tftp.summary', () => ({ ok: 0, failed: 0, bytes: 0 }));
    this.cache = new FileCache(config.cacheBytes);
    this.metrics = new TftpMetrics(metrics);
    this.limited = new LogLimiter(logger);
    this.replies = new ReplyLimiter(config.errorReplies, this.now);
    this.slots = new SlotTable(config);
    const events: RunnerEvents = {
      confirmed: (id) => this.onConfirmed(id),
      finished: (id, result, seconds, fields) => this.onFinished(id, result, seconds, fields),
      setupFailed: (id, error) => this.onSetupFailed(id, error),
      sent: (bytes) => this.metrics.sentBytes.inc(bytes),
      retransmitted: (blocks) => this.metrics.retransmittedBlocks.inc(blocks),
      sendFailed: (code) => this.metrics.sendErrors.inc({ code }),
      malformed: (reason) => this.malformed(reason, undefined),
    };
    this.local = new TransferRunner(events, config.timerTickMs, this.now);
    this.applyWorkers(config);
  }

  async start(): Promise<void> {
    this.summary.start();
    for (const entry of this.cfg.listen) {
      const { host, port } = parseListen(entry);
      const family = isIPv6(host) ? 'udp6' : 'udp4';
      const socket = dgram.createSocket({ type: family });
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
      const listener: Listener = { socket, fast: udpFastPath(socket), host, family };
      const onDatagram = (msg: Buffer, address: string, port: number) => {
        try {
          this.onRequestDatagram(listener, msg, { address, port });
        } catch (e) {
          this.logger.error('tftp.internal_error', { error: errorMessage(e) });
        }
      };
      if (listener.fast) listener.fast.onDatagram(onDatagram);
      else socket.on('message', (msg, rinfo) => onDatagram(msg, rinfo.address, rinfo.port));
      socket.on('error', (e) =>
        this.limited.log('warn', 'tftp.listener_error', { error: e.message, listen: entry }),
      );
      this.listeners.push(listener);
    }
    this.started = true;
    // After the sockets: a request arriving meanwhile is served (a worker still warming up takes
    // transfers between its slices), not refused.
    this.warming = this.warmUp({ transfers: true, requests: this.cfg.warmupRequests });
  }

  /** Resolves once the start-up warm-up is over (tests, the cold-start bench). */
  warmedUp(): Promise<void> {
    return this.warming;
  }

  /**
   * The main thread's request path only: the transfer workers are other heaps, which an idle
   * appliance does not collect.
   */
  rewarm(): Promise<void> {
    if (!this.stopped)
      // Twice the start's requests: after its code was thrown away, V8 counts handleRequest's
      // heat from zero and the start's 1000 did not get it compiled again (test/warmup).
      this.warming = this.warming.then(() =>
        this.warmUp({ transfers: false, requests: 2 * this.cfg.warmupRequests }),
      );
    return this.warming;
  }

  /**
   * Starts the kept workers (`tftp.warmWorkers`), each running `warmupTransfers` synthetic
   * transfers (warmup.ts); with `workers: 1` the main thread runs them itself, in slices. At
   * start, the main thread meanwhile handles `requests` (`warmupRequests`) synthetic requests
   * (request-warmup.ts). One `tftp.warmed_up` line. A failure costs only the warm-up:
   * transfers run as before.
   */
  private async warmUp(parts = { transfers: true, requests: 0 }): Promise<void> {
    const { warmWorkers, warmupTransfers } = this.cfg;
    const [reports, req] = await Promise.all([
      parts.transfers ? this.warmTransfers(warmWorkers, warmupTransfers) : [],
      this.warmRequests(parts.requests),
    ]);
    if (this.stopped || (reports.length === 0 && req === undefined)) return;
    const failed = reports.find((r) => r.error !== undefined);
    if (failed) {
      this.logger.warn('tftp.warmup_failed', {
        threadId: failed.threadId,
        error: failed.error,
        effect: 'the first transfers run slower code; nothing else is affected',
      });
      return;
    }
    const loopback = reports.find((r) => r.loopback !== undefined)?.loopback;
    this.logger.info('tftp.warmed_up', {
      threads: reports.length,
      transfersPerThread: reports.length > 0 ? warmupTransfers : 0,
      warmupMs: Math.round(Math.max(0, ...reports.map((r) => r.ms))),
      ...(loopback ? { loopbackSkipped: loopback } : {}),
      ...(req && 'requests' in req ? { requests: req.requests, requestsMs: Math.round(req.ms) } : {}),
      ...(req && 'skipped' in req ? { requests: 0, requestsSkipped: req.skipped } : {}),
    });
  }

  private async warmTransfers(warmWorkers: number, warmupTransfers: number): Promise<WarmupReport[]> {
    if (this.pool) return this.pool.keepWarm(warmWorkers, warmupTransfers);
    if (warmupTransfers === 0) return [];
    try {
      const done = await warmInSlices(warmupTransfers, () => this.stopped);
      return [{ threadId: 0, transfers: done.completed, ms: done.ms }];
    } catch (e) {
      return [{ threadId: 0, transfers: 0, ms: 0, error: errorMessage(e) }];
    }
  }

  /** The request warm-up on a throwaway server of this class (request-warmup.ts). */
  private async warmRequests(count: number): Promise<RequestWarmupReport | { skipped: string } | undefined> {
    if (count === 0) return undefined;
    try {
      return await warmRequestPath(
        this.cfg,
        count,
        (cfg) =>
          new TftpServer(cfg, silentLogger, new Metrics(), {
            now: this.now,
            workerUrl: this.workerUrl,
            boot: new BootProgress(),
          }),
        () => this.stopped,
      );
    } catch (e) {
      return { skipped: errorMessage(e) };
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

  /** Transfers running (or being set up) in worker threads. */
  get transfersInWorkers(): number {
    let n = 0;
    for (const t of this.transfers.values()) if (t.inWorker) n++;
    return n;
  }

  /** Live worker threads (tests, diagnostics); empty with `workers: 1`. */
  workerThreads(): Worker[] {
    return this.pool?.threads() ?? [];
  }

  /** Transfers each worker thread itself holds (diagnostics, tests). */
  probeWorkers(): Promise<number[]> {
    return this.pool?.probe() ?? Promise.resolve([]);
  }

  /**
   * Starts the worker threads now rather than with the first transfers, and waits until they
   * have loaded (tests; nothing else needs to wait for them).
   */
  async prestartWorkers(): Promise<void> {
    this.pool?.prestart();
    await this.pool?.ready();
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
    this.replies.setLimits(config.errorReplies);
    this.metrics.cacheBytes.set(this.cache.stats().bytes);
    this.applyWorkers(this.cfg);
    // More kept workers (or a pool where there was none): start and warm them now.
    if (this.started && this.pool) void this.warmUp();
  }

  get root(): string {
    return this.cfg.root;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    // Requests still opening their file see `stopped` and give up; running transfers end with
    // `shutdown` and are logged as usual, here or as their worker reports them.
    for (const slot of this.slots.slots()) if (!slot.owner) this.slots.release(slot);
    await Promise.all([this.local.stopAll(), this.pool?.stop()]);
    this.pool = undefined;
    await Promise.all(
      this.listeners.splice(0).map((l) => new Promise<void>((resolve) => l.socket.close(() => resolve()))),
    );
    this.cache.clear();
    this.summary.stop();
  }

  /** Creates, grows or shrinks the worker pool to what `tftp.workers` asks for. */
  private applyWorkers(config: TftpConfig): void {
    if (this.stopped) return;
    const n = workerCount(config.workers);
    if (n <= 1) {
      this.pool?.resize(0);
      return;
    }
    if (this.pool) {
      this.pool.resize(n);
      return;
    }
    const events: PoolEvents = {
      confirmed: (id) => this.onConfirmed(id),
      finished: (id, result, seconds, fields) => this.onFinished(id, result, seconds, fields),
      setupFailed: (id, error) => this.onSetupFailed(id, error),
      stats: (delta) => this.onStats(delta),
      lost: (ids, error) => {
        for (const id of ids) this.onLost(id, error);
      },
      log: (level, event, fields) => this.logger[level](event, fields),
      restarted: () => this.metrics.workerRestarts.inc(),
      resized: (live) => this.metrics.workers.set(live),
    };
    this.pool = new WorkerPool({ max: n, tickMs: config.timerTickMs, url: this.workerUrl, events });
  }

  private onRequestDatagram(listener: Listener, msg: Buffer, peer: Peer): void {
    const decoded = decodePacket(msg);
    if (!decoded.ok) {
      this.malformed(decoded.error.reason, peer);
      if (isRequestShaped(msg)) this.malformedRequest(listener, peer, msg, decoded.error);
      return;
    }
    const p = decoded.packet;
    if (p.op !== 'RRQ' && p.op !== 'WRQ') {
      // DATA/ACK/ERROR/OACK belong on a transfer's port, not on the listening one.
      this.malformed(`stray-${p.op.toLowerCase()}`, peer);
      return;
    }
    this.metrics.requests.inc({ op: p.op.toLowerCase() });
    void this.handleRequest(listener, p, peer).catch((e) =>
      this.logger.error('tftp.internal_error', {
        error: errorMessage(e),
        client: `${peer.address}:${peer.port}`,
      }),
    );
  }

  private async handleRequest(listener: Listener, req: RequestPacket, peer: Peer): Promise<void> {
    if (this.stopped) return;
    const client = `${peer.address}:${peer.port}`;
    const key = `${listener.host}|${client}`;
    if (this.slots.has(key)) {
      // The client retransmitted its RRQ before our first reply arrived: our own timer resends.
      this.metrics.duplicates.inc();
      return;
    }
    const checked = checkRequest(req);
    if (checked.kind === 'refuse') {
      this.refuse(listener, peer, req, checked);
      return;
    }
    const admission = this.slots.admit(peer.address, key);
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
    try {
      const opened = await this.cache.open(this.cfg.root, checked.relative, checked.mode);
      if (opened.kind === 'found') source = opened.source;
      if (slot.released || this.stopped) return; // evicted (or shut down) while the file was being opened
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
        if (plan.kind === 'refuse') this.refuse(listener, peer, req, plan);
        return;
      }
      const spec: TransferSpec = {
        id: this.nextId++,
        client: { address: peer.address, port: peer.port },
        local: listener.host,
        family: listener.family,
        file: checked.relative,
        mode: checked.mode,
        blksize: plan.blksize,
        windowsize: plan.windowsize,
        timeoutMs: plan.timeoutMs,
        maxTimeoutMs: this.cfg.maxTimeoutMs,
        retries: this.cfg.retries,
        maxTransferMs: this.cfg.maxTransferMs,
        oack: plan.oack,
      };
      const transfer: Transfer = { spec, slot, startedAt: this.now(), inWorker: false };
      slot.owner = transfer;
      this.transfers.set(spec.id, transfer);
      // Cached files go to a worker (their bytes are shared memory); a file too big for the
      // cache is read by range from a descriptor this thread opened, so it stays here.
      const data = source.kind === 'memory' ? source.data : undefined;
      transfer.inWorker =
        data?.buffer instanceof SharedArrayBuffer &&
        (this.pool?.place(spec, { buffer: data.buffer, offset: data.byteOffset, length: data.length }) ??
          false);
      if (!transfer.inWorker) this.local.run(spec, source);
      this.metrics.started.inc({ runner: transfer.inWorker ? 'worker' : 'main' });
      source = undefined;
    } finally {
      // Anything not handed to a runner is ours to free.
      source?.close();
      if (!slot.owner) {
        this.slots.release(slot);
        this.metrics.active.set(this.slots.size);
      }
    }
  }

  /** Stops an evicted transfer (or one still opening its file: it notices `released` and stops). */
  private evict(victim: Slot<Transfer>): void {
    const t = victim.owner;
    if (t) {
      // Its slot is already free; the transfer's end is logged when its runner reports it.
      if (t.inWorker) this.pool?.cancel(t.spec.id, 'evicted');
      else this.local.cancel(t.spec.id, 'evicted');
      return;
    }
    this.metrics.transfers.inc({ result: 'evicted' });
    this.limited.log('info', 'tftp.transfer', {
      client: victim.key.split('|')[1],
      result: 'evicted',
      stage: 'setup',
    });
  }

  private onConfirmed(id: number): void {
    const t = this.transfers.get(id);
    if (t) this.slots.confirm(t.slot);
  }

  private onFinished(id: number, result: TransferResult, seconds: number, fields: LogFields): void {
    const t = this.transfers.get(id);
    if (!t) return;
    this.transfers.delete(id);
    const wasConfirmed = t.slot.confirmed;
    this.slots.release(t.slot);
    this.metrics.active.set(this.slots.size);
    this.metrics.transfers.inc({ result });
    this.metrics.duration.observe({ result }, seconds);
    if (result === 'ok') {
      this.boot?.record(t.spec.client.address, 'tftpDone', Date.now());
      this.summary.c.ok++;
      this.summary.c.bytes += typeof fields.bytes === 'number' ? fields.bytes : 0;
    } else if (result !== 'shutdown') this.summary.c.failed++;
    this.summary.touch();
    // A client that never acknowledged anything may be a flood of spoofed requests: rate-limit those.
    if (wasConfirmed || result === 'shutdown') this.logger.info('tftp.transfer', fields);
    else this.limited.log('info', 'tftp.transfer', fields);
  }

  private onSetupFailed(id: number, error: string): void {
    const t = this.transfers.get(id);
    if (!t) return;
    this.transfers.delete(id);
    this.slots.release(t.slot);
    this.metrics.active.set(this.slots.size);
    this.metrics.refused.inc({ reason: 'socket-failed' });
    const { address, port } = t.spec.client;
    this.limited.log('warn', 'tftp.socket_failed', { client: `${address}:${port}`, error });
  }

  /** The worker running this transfer died: the transfer ended with it. */
  private onLost(id: number, error: string): void {
    const t = this.transfers.get(id);
    if (!t) return;
    const seconds = (this.now() - t.startedAt) / 1000;
    const { spec } = t;
    this.onFinished(id, 'worker-lost', seconds, {
      client: `${spec.client.address}:${spec.client.port}`,
      local: spec.local,
      file: spec.file,
      mode: spec.mode,
      blksize: spec.blksize,
      windowsize: spec.windowsize,
      durationMs: Math.round(seconds * 1000),
      result: 'worker-lost',
      error,
    });
  }

  private onStats(d: StatsDelta): void {
    if (d.sentBytes > 0) this.metrics.sentBytes.inc(d.sentBytes);
    if (d.retransmittedBlocks > 0) this.metrics.retransmittedBlocks.inc(d.retransmittedBlocks);
    for (const [reason, n] of Object.entries(d.malformed)) {
      this.metrics.malformed.inc({ reason }, n);
      this.limited.log('debug', 'tftp.malformed', { reason, count: n });
    }
    for (const [code, n] of Object.entries(d.sendFailed)) this.metrics.sendErrors.inc({ code }, n);
  }

  private refuse(listener: Listener, peer: Peer, req: RequestPacket, r: Refusal): void {
    if (this.stopped) return; // the listening socket may already be closed
    this.metrics.refused.inc({ reason: r.reason });
    this.limited.log('info', 'tftp.transfer', {
      client: `${peer.address}:${peer.port}`,
      local: listener.host,
      op: req.op,
      file: req.filename.slice(0, 200),
      result: 'refused',
      reason: r.reason,
      errorCode: r.code,
      ...(r.reason === 'no-root' ? { root: this.cfg.root } : {}),
    });
    this.sendError(listener, peer, r.code, r.message);
  }

  /** An RRQ/WRQ that could not be decoded: an ERROR saying why, like tftpd-hpa and dnsmasq. */
  private malformedRequest(listener: Listener, peer: Peer, msg: Buffer, error: DecodeError): void {
    if (this.stopped) return;
    const reply = malformedRequestReply(error);
    const sent = this.sendError(listener, peer, reply.code, reply.message);
    this.limited.log('info', 'tftp.malformed_request', {
      client: `${peer.address}:${peer.port}`,
      local: listener.host,
      op: msg[1] === 2 ? 'WRQ' : 'RRQ',
      reason: error.reason,
      detail: error.detail,
      bytes: msg.length,
      errorCode: reply.code,
      replied: sent,
    });
  }

  /**
   * Sent from the listening socket: an error ends the exchange, so no transfer port is needed,
   * and a flood of bad requests costs no sockets (tftp-hpa, atftp and curl accept it). Capped
   * per source and overall (tftp.errorReplies) so forged sources cannot make us a reflector.
   */
  private sendError(listener: Listener, peer: Peer, code: number, message: string): boolean {
    if (!this.replies.allow(peer.address)) {
      this.metrics.errorReplies.inc({ result: 'rate_limited' });
      return false;
    }
    this.metrics.errorReplies.inc({ result: 'sent' });
    const packet = encodeError(code, message);
    if (listener.fast) listener.fast.send(packet, peer.port, peer.address);
    else listener.socket.send(packet, peer.port, peer.address);
    return true;
  }

  private malformed(reason: string, peer: Peer | undefined): void {
    this.metrics.malformed.inc({ reason });
    this.limited.log('debug', 'tftp.malformed', {
      reason,
      ...(peer ? { client: `${peer.address}:${peer.port}` } : {}),
    });
  }
}
