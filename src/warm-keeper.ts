import { PerformanceObserver, constants } from 'node:perf_hooks';
import { errorMessage } from './errors.js';
import type { Logger } from './log.js';

/**
 * Keeps the start-up warm-ups' compiled code through the idle hours before a boot storm.
 *
 * A full (mark-compact) GC collects the objects the warm-ups left behind, and V8 then throws away
 * the optimised code that referred to them weakly (`--trace-deopt`: "marking dependent code …
 * reason: weak objects"; test/warmup: `answerFast` and `TftpServer.handleRequest` lose their code
 * to a few forced full GCs). With `--no-memory-reducer` (src/runtime-flags.ts) an idle appliance
 * runs no full GC at all, but the night's trickle (scrapes, LLDP, conntrack events, renewals)
 * fills the old generation slowly, and the GC it ends with would leave the morning's storm cold
 * code. So after a full GC, once the process has been idle for `quietMs`, every service runs its
 * warm-up again (`Service.rewarm`, this thread's paths only) — at most once per `minIntervalMs`,
 * and never while the appliance is busy: a GC in a storm is the storm's, its code is hot.
 */
export interface WarmKeeperOptions {
  /** Runs every service's warm-up again; resolves when all are over. */
  rewarm: () => Promise<void>;
  logger: Logger;
  /** Idle this long (process CPU below `idleCpuShare` of one core) before a re-warm. */
  quietMs?: number;
  idleCpuShare?: number;
  /** At most one re-warm per interval: bounds the cost if its own garbage ends in a full GC. */
  minIntervalMs?: number;
  /** Process CPU time so far, in µs (process.cpuUsage by default; tests give their own). */
  cpuMicros?: () => number;
  /** A monotonic clock in ms (performance.now by default; tests give their own). */
  now?: () => number;
  /** Told of each re-warm's outcome (the appliance counts them in a metric). */
  counted?: (outcome: 'done' | 'failed') => void;
}

export class WarmKeeper {
  private readonly observer: PerformanceObserver;
  private timer: NodeJS.Timeout | undefined;
  private fullGcs = 0;
  private lastRewarmAt = Number.NEGATIVE_INFINITY;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;
  private cpuMark = 0;
  private readonly quietMs: number;
  private readonly idleCpuShare: number;
  private readonly minIntervalMs: number;
  private readonly cpuMicros: () => number;
  private readonly now: () => number;

  constructor(private readonly opts: WarmKeeperOptions) {
    this.quietMs = opts.quietMs ?? 30_000;
    this.idleCpuShare = opts.idleCpuShare ?? 0.05;
    this.minIntervalMs = opts.minIntervalMs ?? 10 * 60_000;
    this.now = opts.now ?? (() => performance.now());
    this.cpuMicros =
      opts.cpuMicros ??
      (() => {
        const u = process.cpuUsage();
        return u.user + u.system;
      });
    this.observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
        if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) this.fullGc();
      }
    });
  }

  start(): void {
    this.observer.observe({ entryTypes: ['gc'] });
  }

  /** A full GC happened (the observer's call; tests call it directly). */
  fullGc(): void {
    // Counted during a re-warm too: it may undo a service warmed a moment before. A re-warm
    // whose own garbage ends in a full GC repeats at most once per minIntervalMs.
    if (this.stopped) return;
    this.fullGcs++;
    if (!this.timer) this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.observer.disconnect();
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The re-warm in progress, if any (services' stop() cancel their part of it). */
  rewarmed(): Promise<void> {
    return this.running;
  }

  private schedule(): void {
    this.cpuMark = this.cpuMicros();
    this.timer = setTimeout(() => this.check(), this.quietMs);
    // An idle appliance must still be able to exit (tests, `gatehouse serve` stopping).
    this.timer.unref();
  }

  private check(): void {
    this.timer = undefined;
    if (this.stopped || this.fullGcs === 0) return;
    const cpuMs = (this.cpuMicros() - this.cpuMark) / 1000;
    const idle = cpuMs <= this.idleCpuShare * this.quietMs;
    const now = this.now();
    if (!idle || now - this.lastRewarmAt < this.minIntervalMs) {
      this.schedule();
      return;
    }
    const fullGcs = this.fullGcs;
    this.fullGcs = 0;
    this.lastRewarmAt = now;
    this.running = this.opts.rewarm().then(
      () => {
        this.opts.counted?.('done');
        this.opts.logger.info('warmup.rewarmed', {
          reason: 'full GC while idle',
          fullGcs,
          rewarmMs: Math.round(this.now() - now),
        });
      },
      (e: unknown) => {
        this.opts.counted?.('failed');
        this.opts.logger.warn('warmup.rewarm_failed', {
          error: errorMessage(e),
          effect: 'the next boot storm may run slower code; nothing else is affected',
        });
      },
    );
  }
}
