/**
 * The transfer worker threads (`tftp.workers` > 1) seen from the main thread.
 *
 * Workers start on demand: a transfer goes to an idle worker if there is one, else a new worker
 * is started while fewer than `max` exist, else it goes to the least-loaded one. A worker that is
 * still starting already takes transfers (its messages wait in its port), so a boot storm is not
 * served by the main thread while the first workers load. A worker idle for `idleMs` (60 s; checked
 * every idleMs/4) ends, except the `warm` ones:
 * each thread holds ~10 MiB (its own V8 heap), which a gateway would otherwise keep all day after
 * the morning boot storm; the next transfer starts one again (a few tens of ms, during which its
 * messages wait in its port). The `warm` workers (`tftp.warmWorkers`) are started with the
 * service, run a warm-up of the transfer path (warmup.ts) and stay: a fresh isolate meets a
 * storm with interpreted code, and compiling it then cost the storm's CPU (issue 13).
 *
 * A worker that dies unexpectedly (uncaught exception, out of memory, terminated) takes its
 * transfers with it: they are reported as lost (the caller logs and counts them once, and frees
 * their slots; the clients' sockets were closed with the thread) and a replacement is started at
 * once, or after a growing pause (100 ms doubling to 30 s) if workers keep dying soon after they
 * start; meanwhile the caller runs transfers itself. After two such early deaths in a row the
 * pool is cautious: a new worker gets one transfer at a time (a canary) until it has finished
 * one, and everything else runs on the main thread, so a bug that kills every worker costs one
 * transfer per restart instead of all of them. Stopping asks every worker to end its
 * transfers with `shutdown` (each reported as usual) and waits for the threads to exit,
 * terminating any that do not within the deadline.
 */
import { Worker } from 'node:worker_threads';
import type { LogFields } from '../log.js';
import type { TransferSpec } from './runner.js';
import type { TransferResult } from './session.js';
import type { FromWorker, SharedBytes, StatsDelta, ToWorker, WorkerInit } from './worker-protocol.js';

export interface PoolEvents {
  confirmed(id: number): void;
  finished(id: number, result: TransferResult, seconds: number, fields: LogFields): void;
  setupFailed(id: number, error: string): void;
  stats(delta: StatsDelta): void;
  /** The worker that ran these transfers is gone, and so are they. */
  lost(ids: number[], error: string): void;
  log(level: 'info' | 'warn' | 'error', event: string, fields: LogFields): void;
  /** A replacement worker was started after one died. */
  restarted(): void;
  /** Number of live workers changed. */
  resized(live: number): void;
}

export interface PoolOptions {
  max: number;
  tickMs: number;
  /** The worker entry module (transfer-worker.ts / .js). */
  url: URL;
  events: PoolEvents;
  /** A worker without transfers for this long ends (default 60 s), while more than `keepWarm`'s run. */
  idleMs?: number;
}

/** What one worker's start-up warm-up did. */
export interface WarmupReport {
  threadId: number;
  transfers: number;
  ms: number;
  error?: string;
  /** Why the real-socket part (over 127.0.0.1) did not run, if it did not. */
  loopback?: string;
}

interface Member {
  worker: Worker;
  /** Kept: `worker.threadId` reads -1 once the thread has exited. */
  threadId: number;
  /** Transfers handed over and not yet reported finished. */
  active: Set<number>;
  /** `retiring`: takes nothing new, stops when idle (the pool shrank); `stopping`: asked to stop. */
  state: 'running' | 'retiring' | 'stopping';
  startedAt: number;
  ready: boolean;
  /** Has reported the end of a transfer (it survives real work). */
  proven: boolean;
  /** Resolves once its start-up warm-up is over (or it exited); absent when it runs none. */
  warmed?: { promise: Promise<WarmupReport>; resolve(r: WarmupReport): void };
  /** performance.now() when it last had no transfer left (or became ready). */
  idleSince: number;
  exited: Promise<void>;
}

/** A worker dying sooner than this after it started counts towards the restart back-off. */
const EARLY_DEATH_MS = 5000;
const MAX_BACKOFF_MS = 30_000;
const DEFAULT_IDLE_MS = 60_000;

export class WorkerPool {
  private readonly members = new Set<Member>();
  private readonly owner = new Map<number, Member>();
  private max: number;
  private stopped = false;
  private earlyDeaths = 0;
  private respawnTimer: NodeJS.Timeout | undefined;
  private probeSeq = 0;
  private readonly probes = new Map<number, (transfers: number) => void>();
  private readonly idleMs: number;
  private readonly idleTimer: NodeJS.Timeout;
  /** Workers kept while idle (`keepWarm`). */
  private warm = 0;

  constructor(private readonly opts: PoolOptions) {
    this.max = opts.max;
    this.idleMs = opts.idleMs ?? DEFAULT_IDLE_MS;
    this.idleTimer = setInterval(() => this.endIdle(), Math.max(10, this.idleMs / 4));
    this.idleTimer.unref();
  }

  /**
   * Ends the workers that had nothing to do for `idleMs`, except the `warm` oldest ones: they
   * have run the most (the warmed-up ones among them), so V8 has compiled the most there.
   */
  private endIdle(): void {
    const now = performance.now();
    let kept = 0;
    for (const m of this.members) {
      if (m.state !== 'running') continue;
      if (kept < this.warm) {
        kept++;
        continue;
      }
      if (!m.ready || m.active.size > 0 || now - m.idleSince < this.idleMs) continue;
      this.opts.events.log('info', 'tftp.worker_idle_stopped', {
        threadId: m.threadId,
        idleSeconds: Math.round((now - m.idleSince) / 1000),
      });
      this.stopMember(m);
    }
  }

  /** Workers alive and taking transfers. */
  get live(): number {
    let n = 0;
    for (const m of this.members) if (m.state === 'running') n++;
    return n;
  }

  /** The worker threads (for tests and diagnostics). */
  threads(): Worker[] {
    return [...this.members].filter((m) => m.state === 'running').map((m) => m.worker);
  }

  /** Resolves once every running worker has loaded (for tests; transfers never wait for it). */
  async ready(): Promise<void> {
    while ([...this.members].some((m) => m.state === 'running' && !m.ready)) {
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Starts workers up to `n` now instead of on demand (tests; warming a gateway). */
  prestart(n = this.max): void {
    while (!this.stopped && this.live < Math.min(n, this.max)) if (!this.spawn()) return;
  }

  /**
   * Starts workers up to `warm` (capped by the maximum), each running `warmupTransfers`
   * synthetic transfers first; resolves with their reports once they are done (immediately
   * with none when enough workers run already). Workers that run keep running as they are.
   */
  keepWarm(warm: number, warmupTransfers: number): Promise<WarmupReport[]> {
    this.warm = warm;
    const started: Promise<WarmupReport>[] = [];
    while (!this.stopped && this.live < Math.min(warm, this.max)) {
      const m = this.spawn(warmupTransfers);
      if (!m) break;
      if (m.warmed) started.push(m.warmed.promise);
    }
    return Promise.all(started);
  }

  /**
   * Asks each running worker how many transfers it holds (diagnostics and tests: state freed in
   * the worker itself, not only in the main thread's books). A worker that exits first answers -1.
   */
  async probe(): Promise<number[]> {
    const running = [...this.members].filter((m) => m.state === 'running');
    return Promise.all(
      running.map(
        (m) =>
          new Promise<number>((resolve) => {
            const seq = ++this.probeSeq;
            this.probes.set(seq, resolve);
            void m.exited.then(() => {
              if (this.probes.delete(seq)) resolve(-1);
            });
            this.send(m, { t: 'probe', seq });
          }),
      ),
    );
  }

  /** Hands a transfer to a worker; false when none can take it (the caller runs it). */
  place(spec: TransferSpec, data: SharedBytes): boolean {
    if (this.stopped) return false;
    const cautious = this.earlyDeaths >= 2;
    let best: Member | undefined;
    for (const m of this.members) {
      if (m.state !== 'running') continue;
      if (cautious && !m.proven && m.active.size > 0) continue; // its canary is still out
      if (!best || m.active.size < best.active.size) best = m;
    }
    if ((!best || best.active.size > 0) && this.live < this.max && !this.respawnTimer && !cautious) {
      best = this.spawn() ?? best;
    }
    if (!best) return false;
    best.active.add(spec.id);
    this.owner.set(spec.id, best);
    this.send(best, { t: 'run', spec, data });
    return true;
  }

  /** True when the transfer runs in a worker of this pool. */
  has(id: number): boolean {
    return this.owner.has(id);
  }

  cancel(id: number, result: TransferResult): void {
    const m = this.owner.get(id);
    if (m) this.send(m, { t: 'cancel', id, result });
  }

  /** New maximum: extra workers finish their transfers, then exit. */
  resize(max: number): void {
    this.max = max;
    const running = [...this.members]
      .filter((m) => m.state === 'running')
      .sort((a, b) => a.active.size - b.active.size);
    for (const m of running.slice(0, Math.max(0, running.length - max))) {
      m.state = 'retiring';
      if (m.active.size === 0) this.stopMember(m);
    }
    this.opts.events.resized(this.live);
  }

  async stop(timeoutMs = 5000): Promise<void> {
    this.stopped = true;
    clearInterval(this.idleTimer);
    if (this.respawnTimer) clearTimeout(this.respawnTimer);
    this.respawnTimer = undefined;
    const members = [...this.members];
    for (const m of members) this.stopMember(m);
    await Promise.all(
      members.map(async (m) => {
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<'late'>((r) => {
          timer = setTimeout(() => r('late'), timeoutMs);
        });
        const how = await Promise.race([m.exited.then(() => 'exited' as const), late]);
        clearTimeout(timer);
        if (how === 'late') {
          this.opts.events.log('warn', 'tftp.worker_stop_timeout', { threadId: m.threadId, timeoutMs });
          await m.worker.terminate();
          await m.exited;
        }
      }),
    );
  }

  private spawn(warmupTransfers = 0): Member | undefined {
    let worker: Worker;
    try {
      const init: WorkerInit = { tickMs: this.opts.tickMs, warmupTransfers };
      worker = startWorker(this.opts.url, init);
    } catch (e) {
      this.opts.events.log('error', 'tftp.worker_spawn_failed', {
        error: e instanceof Error ? e.message : String(e),
      });
      this.scheduleRespawn(true);
      return undefined;
    }
    // The listening sockets keep the process alive; a worker alone must not.
    worker.unref();
    const member: Member = {
      worker,
      threadId: worker.threadId,
      active: new Set(),
      state: 'running',
      startedAt: performance.now(),
      ready: false,
      proven: false,
      // Present on every member, set or not: members of one shape keep `place` compiled for all
      // of them (a kept worker's would otherwise differ from one started on demand).
      warmed: undefined,
      idleSince: performance.now(),
      exited: new Promise((resolve) => worker.once('exit', () => resolve())),
    };
    if (warmupTransfers > 0) {
      let resolve: (r: WarmupReport) => void = () => {};
      const promise = new Promise<WarmupReport>((r) => {
        resolve = r;
      });
      member.warmed = { promise, resolve };
      void member.exited.then(() =>
        resolve({ threadId: member.threadId, transfers: 0, ms: 0, error: 'the worker exited first' }),
      );
    }
    this.members.add(member);
    worker.on('message', (m: FromWorker) => this.onMessage(member, m));
    worker.on('error', (e) =>
      this.opts.events.log('error', 'tftp.worker_error', { threadId: member.threadId, error: e.message }),
    );
    worker.once('exit', (code) => this.onExit(member, code));
    this.opts.events.resized(this.live);
    return member;
  }

  private send(m: Member, msg: ToWorker): void {
    try {
      m.worker.postMessage(msg);
    } catch (e) {
      // A thread already gone: its exit handler reports the transfers as lost.
      this.opts.events.log('warn', 'tftp.worker_post_failed', {
        threadId: m.threadId,
        error: e instanceof Error ? e.message : String(e),
      });
    }
  }

  private stopMember(m: Member): void {
    if (m.state === 'stopping') return;
    m.state = 'stopping';
    this.send(m, { t: 'stop' });
  }

  private onMessage(m: Member, msg: FromWorker): void {
    const ev = this.opts.events;
    switch (msg.t) {
      case 'ready':
        m.ready = true;
        m.idleSince = performance.now();
        return;
      case 'stats':
        ev.stats(msg.delta);
        return;
      case 'confirmed':
        ev.confirmed(msg.id);
        return;
      case 'finished':
      case 'setup-failed':
        if (!m.active.delete(msg.id)) return;
        this.owner.delete(msg.id);
        if (!m.proven) {
          m.proven = true;
          this.earlyDeaths = 0;
        }
        if (msg.t === 'finished') ev.finished(msg.id, msg.result, msg.seconds, msg.fields);
        else ev.setupFailed(msg.id, msg.error);
        if (m.active.size === 0) m.idleSince = performance.now();
        if (m.state === 'retiring' && m.active.size === 0) this.stopMember(m);
        return;
      case 'log':
        ev.log(msg.level, msg.event, { threadId: m.threadId, ...msg.fields });
        return;
      case 'probe': {
        const resolve = this.probes.get(msg.seq);
        this.probes.delete(msg.seq);
        resolve?.(msg.transfers);
        return;
      }
      case 'warmed':
        m.warmed?.resolve({
          threadId: m.threadId,
          transfers: msg.transfers,
          ms: msg.ms,
          error: msg.error,
          loopback: msg.loopback,
        });
        return;
      case 'stopped':
        return;
    }
  }

  private onExit(m: Member, code: number): void {
    this.members.delete(m);
    const expected = m.state !== 'running';
    const ids = [...m.active];
    for (const id of ids) this.owner.delete(id);
    m.active.clear();
    const ev = this.opts.events;
    ev.resized(this.live);
    if (ids.length > 0) ev.lost(ids, `worker thread ${m.threadId} exited with code ${code}`);
    if (expected) return;
    const early = performance.now() - m.startedAt < EARLY_DEATH_MS;
    ev.log('error', 'tftp.worker_exited', {
      threadId: m.threadId,
      code,
      lostTransfers: ids.length,
      note: 'a replacement is started; please report this with the preceding log lines',
    });
    if (!this.stopped) this.scheduleRespawn(early);
  }

  private scheduleRespawn(early: boolean): void {
    if (this.stopped || this.respawnTimer) return;
    this.earlyDeaths = early ? this.earlyDeaths + 1 : 0;
    const delay = this.earlyDeaths <= 1 ? 0 : Math.min(MAX_BACKOFF_MS, 100 * 2 ** (this.earlyDeaths - 2));
    const respawn = () => {
      this.respawnTimer = undefined;
      if (this.stopped || this.live >= this.max) return;
      if (this.spawn()) this.opts.events.restarted();
    };
    if (delay === 0) {
      respawn();
      return;
    }
    this.respawnTimer = setTimeout(respawn, delay);
    this.respawnTimer.unref();
  }
}

/**
 * Starts the worker entry. Production runs compiled JavaScript; from TypeScript sources (tests,
 * `node --import tsx`) the thread first registers tsx's loader itself, because Node.js 20 does
 * not apply the parent's module hooks to worker threads.
 */
function startWorker(url: URL, init: WorkerInit): Worker {
  if (!url.pathname.endsWith('.ts')) return new Worker(url, { workerData: init });
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(boot, { eval: true, workerData: init });
}
