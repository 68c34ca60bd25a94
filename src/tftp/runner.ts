/**
 * Runs accepted transfers in the current thread: opens each transfer's socket (bound to the local
 * address the request arrived on, connected to the client), drives its Session, and files every
 * session in one shared TimerWheel. The main thread uses one (`tftp.workers: 1`, and files too
 * big for the cache); each worker thread runs one (transfer-worker.ts).
 *
 * The runner decides nothing about admission: it is told to run, cancel or stop transfers by id
 * and reports back through RunnerEvents with plain data (structured-clonable, so a worker can
 * post it as is). Every `run(spec)` ends in exactly one `finished` or `setupFailed` event.
 */
import dgram from 'node:dgram';
import { errorMessage } from '../errors.js';
import type { LogFields } from '../log.js';
import { closeQuietly, openChannel, type TransferChannel } from './channel.js';
import type { FileSource } from './file-cache.js';
import { Session, type SessionHooks, type SessionInfo, type TransferResult } from './session.js';
import { TimerWheel } from './timer-wheel.js';

/** Everything a runner needs to start a transfer, decided by the main thread. */
export interface TransferSpec extends SessionInfo {
  id: number;
  family: 'udp4' | 'udp6';
}

export interface RunnerEvents {
  /** First ACK: the client is real. */
  confirmed(id: number): void;
  /** The transfer ended; `fields` is its `tftp.transfer` log record. */
  finished(id: number, result: TransferResult, seconds: number, fields: LogFields): void;
  /** The transfer socket could not be opened (nothing was sent). */
  setupFailed(id: number, error: string): void;
  sent(bytes: number): void;
  retransmitted(blocks: number): void;
  sendFailed(code: string): void;
  malformed(reason: string): void;
}

interface Entry {
  spec: TransferSpec;
  source: FileSource;
  session: Session | undefined;
  /** Cancelled while its socket was being opened. */
  cancelled: TransferResult | undefined;
  queuedAt: number;
}

export class TransferRunner {
  private readonly entries = new Map<number, Entry>();
  private readonly idOf = new Map<Session, number>();
  private readonly wheel: TimerWheel<Session>;
  private ticker: NodeJS.Timeout | undefined;
  private readonly hooks: SessionHooks;
  private emptyWaiters: Array<() => void> = [];

  constructor(
    private readonly events: RunnerEvents,
    private readonly tickMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.wheel = new TimerWheel<Session>(tickMs, now());
    this.hooks = {
      now: this.now,
      schedule: (s) => {
        this.wheel.schedule(s);
        this.ensureTicking();
      },
      confirmed: (s) => {
        const id = this.idOf.get(s);
        if (id !== undefined) events.confirmed(id);
      },
      sent: (bytes) => events.sent(bytes),
      retransmitted: (blocks) => {
        if (blocks > 0) events.retransmitted(blocks);
      },
      sendFailed: (code) => events.sendFailed(code),
      malformed: (reason) => events.malformed(reason),
      finished: (s, result, detail) => this.onFinished(s, result, detail),
    };
  }

  /** Transfers running or being set up here. */
  get size(): number {
    return this.entries.size;
  }

  run(spec: TransferSpec, source: FileSource): void {
    const entry = this.track(spec, source);
    this.openSocket(spec).then(
      (socket) => this.begin(entry, openChannel(socket)),
      (e) => {
        source.close();
        if (entry.cancelled) this.finishedInSetup(entry);
        else this.events.setupFailed(spec.id, errorMessage(e));
        this.remove(spec.id);
      },
    );
  }

  /**
   * Runs a transfer over a channel the caller made (the warm-up's in-memory client, warmup.ts):
   * the same session, hooks, timer wheel and end report as `run`, no socket.
   */
  runOn(spec: TransferSpec, source: FileSource, channel: TransferChannel): void {
    this.begin(this.track(spec, source), channel);
  }

  private track(spec: TransferSpec, source: FileSource): Entry {
    const entry: Entry = { spec, source, session: undefined, cancelled: undefined, queuedAt: this.now() };
    this.entries.set(spec.id, entry);
    return entry;
  }

  /** Ends a transfer (evicted to make room, or shutdown); unknown ids are ignored. */
  cancel(id: number, result: TransferResult): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    if (entry.session) entry.session.finish(result);
    else entry.cancelled ??= result;
  }

  /**
   * Ends every transfer with `shutdown`. Running ones report at once; ones whose socket is still
   * being opened report when it is: the promise resolves once every `finished` event is out.
   */
  stopAll(): Promise<void> {
    for (const id of [...this.entries.keys()]) this.cancel(id, 'shutdown');
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
    if (this.entries.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.emptyWaiters.push(resolve));
  }

  private remove(id: number): void {
    this.entries.delete(id);
    if (this.entries.size === 0 && this.emptyWaiters.length > 0) {
      const waiters = this.emptyWaiters;
      this.emptyWaiters = [];
      for (const w of waiters) w();
    }
  }

  private begin(entry: Entry, channel: TransferChannel): void {
    const { spec } = entry;
    if (entry.cancelled) {
      channel.close();
      entry.source.close();
      this.finishedInSetup(entry);
      this.remove(spec.id);
      return;
    }
    const session = new Session(
      {
        client: spec.client,
        local: spec.local,
        file: spec.file,
        mode: spec.mode,
        blksize: spec.blksize,
        windowsize: spec.windowsize,
        timeoutMs: spec.timeoutMs,
        maxTimeoutMs: spec.maxTimeoutMs,
        retries: spec.retries,
        maxTransferMs: spec.maxTransferMs,
        oack: spec.oack,
      },
      channel,
      entry.source,
      this.hooks,
    );
    entry.session = session;
    this.idOf.set(session, spec.id);
    session.start();
  }

  private finishedInSetup(entry: Entry): void {
    const result = entry.cancelled ?? 'shutdown';
    const { spec } = entry;
    this.events.finished(spec.id, result, (this.now() - entry.queuedAt) / 1000, {
      client: `${spec.client.address}:${spec.client.port}`,
      local: spec.local,
      file: spec.file,
      result,
      stage: 'setup',
    });
  }

  private openSocket(spec: TransferSpec): Promise<dgram.Socket> {
    const socket = dgram.createSocket({ type: spec.family });
    return new Promise<dgram.Socket>((resolve, reject) => {
      const fail = (e: Error) => {
        closeQuietly(socket);
        reject(e);
      };
      socket.once('error', fail);
      socket.bind({ address: spec.local, port: 0 }, () => {
        socket.connect(spec.client.port, spec.client.address, () => {
          socket.off('error', fail);
          resolve(socket);
        });
      });
    });
  }

  private onFinished(s: Session, result: TransferResult, detail?: Record<string, unknown>): void {
    const id = this.idOf.get(s);
    this.idOf.delete(s);
    this.wheel.remove(s);
    if (id === undefined) return;
    const seconds = (this.now() - s.startedAt) / 1000;
    const { address, port } = s.info.client;
    this.events.finished(id, result, seconds, {
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
      dupAckRetransmits: s.state.dupAckRetransmits,
      result,
      ...detail,
    });
    this.remove(id);
  }

  private ensureTicking(): void {
    if (this.ticker) return;
    this.ticker = setInterval(() => this.tick(), this.tickMs);
  }

  /** Fires the retransmission timers that are due (the interval's job; the warm-up calls it too). */
  tick(): void {
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
