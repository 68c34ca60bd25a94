import cluster, { type Worker } from 'node:cluster';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HostPort } from '../config/listen.js';
import { GatehouseError } from '../errors.js';
import type { Logger } from '../log.js';
import type { DnsRuntimeConfig } from './policy-config.js';
import type { DnsStatsDelta } from './stats.js';
import type { DnsWarmupReport } from './warmup.js';
import type { Zone } from './zone.js';

/** Messages between the main process and UDP workers (structured clone over IPC). */
export type ToWorker =
  | { type: 'init'; cfg: DnsRuntimeConfig; listen: HostPort[]; zones: readonly Zone[]; generation: number }
  | { type: 'snapshot'; zones: readonly Zone[]; generation: number }
  | { type: 'config'; cfg: DnsRuntimeConfig }
  | { type: 'stop' };

export type FromWorker =
  /** The worker's IPC listener is installed; messages sent before it would be lost. */
  | { type: 'hello' }
  | { type: 'ready'; addresses: string[] }
  | { type: 'applied'; generation: number }
  | { type: 'stats'; delta: DnsStatsDelta }
  /** The start-up warm-up (warmup.ts, `dns.warmupQueries`) is over. */
  | { type: 'warmed'; report: DnsWarmupReport }
  | { type: 'failed'; error: string };

const START_TIMEOUT_MS = 20_000;

function workerScript(): string {
  const here = fileURLToPath(import.meta.url);
  return path.join(path.dirname(here), `worker${path.extname(here)}`);
}

/**
 * UDP answering on every core: N cluster workers bind the same UDP addresses, so the primary
 * hands them one shared socket and the kernel spreads datagrams across their receive loops.
 * Each worker compiles the zones it is sent into its own snapshot; `broadcast` resolves when
 * every worker has swapped it in. A worker that dies is replaced with the latest snapshot.
 */
export class WorkerPool {
  private readonly workers = new Set<Worker>();
  private readonly waiters = new Map<Worker, Array<{ generation: number; resolve: () => void }>>();
  private last: { zones: readonly Zone[]; generation: number } | undefined;
  private cfg: DnsRuntimeConfig | undefined;
  private listen: HostPort[] = [];
  private stopping = false;
  private boundAddresses: string[] = [];
  /** The start-up warm-ups of the workers forked by `start`. */
  private readonly warmups: Promise<DnsWarmupReport>[] = [];

  constructor(
    private readonly count: number,
    private readonly logger: Logger,
    private readonly onStats: (d: DnsStatsDelta) => void,
  ) {}

  async start(
    cfg: DnsRuntimeConfig,
    listen: HostPort[],
    zones: readonly Zone[],
    generation: number,
  ): Promise<void> {
    this.cfg = cfg;
    this.listen = listen;
    this.last = { zones, generation };
    cluster.setupPrimary({
      exec: workerScript(),
      execArgv: process.execArgv,
      serialization: 'advanced',
      silent: false,
    });
    await Promise.all(Array.from({ length: this.count }, () => this.fork(cfg.dns.warmupQueries > 0)));
  }

  /** Resolves with each started worker's warm-up report (warmup.ts) once all are over. */
  warmedUp(): Promise<DnsWarmupReport[]> {
    return Promise.all(this.warmups);
  }

  addresses(): string[] {
    return this.boundAddresses;
  }

  get size(): number {
    return this.workers.size;
  }

  private fork(warming = false): Promise<void> {
    const worker = cluster.fork({ GATEHOUSE_DNS_WORKER: '1' });
    this.workers.add(worker);
    this.waiters.set(worker, []);
    // A replacement warms up too (its `init` says so) but is not waited for.
    let warmed: (r: DnsWarmupReport) => void = () => {};
    if (warming)
      this.warmups.push(
        new Promise<DnsWarmupReport>((resolve) => {
          warmed = resolve;
          worker.once('exit', () => resolve({ queries: 0, ms: 0, error: 'the worker exited first' }));
        }),
      );
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new GatehouseError('GH_LISTEN_FAILED', 'a DNS worker did not start in time')),
        START_TIMEOUT_MS,
      );
      let ready = false;
      worker.on('message', (m: FromWorker) => {
        switch (m.type) {
          case 'hello': {
            const init: ToWorker = {
              type: 'init',
              cfg: this.cfg!,
              listen: this.listen,
              zones: this.last!.zones,
              generation: this.last!.generation,
            };
            worker.send(init);
            break;
          }
          case 'ready':
            ready = true;
            this.boundAddresses = m.addresses;
            clearTimeout(timer);
            resolve();
            break;
          case 'failed':
            clearTimeout(timer);
            reject(new GatehouseError('GH_LISTEN_FAILED', `DNS worker failed to start: ${m.error}`));
            break;
          case 'applied': {
            const list = this.waiters.get(worker) ?? [];
            for (const w of list.filter((x) => x.generation <= m.generation)) w.resolve();
            this.waiters.set(
              worker,
              list.filter((x) => x.generation > m.generation),
            );
            break;
          }
          case 'stats':
            this.onStats(m.delta);
            break;
          case 'warmed':
            warmed(m.report);
            break;
        }
      });
      worker.on('exit', (code, signal) => {
        this.workers.delete(worker);
        for (const w of this.waiters.get(worker) ?? []) w.resolve();
        this.waiters.delete(worker);
        if (!ready) {
          clearTimeout(timer);
          reject(
            new GatehouseError(
              'GH_LISTEN_FAILED',
              `DNS worker exited during start (code ${code}, signal ${signal})`,
            ),
          );
          return;
        }
        if (this.stopping) return;
        this.logger.error('dns.worker_died', { pid: worker.process.pid, code, signal });
        this.fork().catch((e) => this.logger.error('dns.worker_restart_failed', { error: e }));
      });
    });
  }

  /** Sends a snapshot to every worker; resolves when all have swapped it in. */
  broadcast(zones: readonly Zone[], generation: number): Promise<void> {
    this.last = { zones, generation };
    const msg: ToWorker = { type: 'snapshot', zones, generation };
    const all: Promise<void>[] = [];
    for (const w of this.workers) {
      all.push(new Promise<void>((resolve) => this.waiters.get(w)?.push({ generation, resolve })));
      w.send(msg);
    }
    return Promise.all(all).then(() => {});
  }

  reconfigure(cfg: DnsRuntimeConfig): void {
    this.cfg = cfg;
    for (const w of this.workers) w.send({ type: 'config', cfg } satisfies ToWorker);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.workers].map(
        (w) =>
          new Promise<void>((resolve) => {
            const t = setTimeout(() => {
              w.process.kill('SIGKILL');
              resolve();
            }, 3000);
            w.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
            try {
              w.send({ type: 'stop' } satisfies ToWorker);
            } catch {
              w.process.kill('SIGKILL');
            }
          }),
      ),
    );
  }
}
