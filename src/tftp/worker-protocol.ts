/**
 * Messages between the main thread (worker-pool.ts) and a transfer worker (transfer-worker.ts).
 * Plain data only: they cross threads by structured clone; file bytes travel as a view into a
 * SharedArrayBuffer (shared, not copied).
 */
import type { LogFields } from '../log.js';
import type { TransferSpec } from './runner.js';
import type { TransferResult } from './session.js';

export interface WorkerInit {
  tickMs: number;
  /** Synthetic transfers to run once loaded (warmup.ts); 0 = none (a worker started on demand). */
  warmupTransfers: number;
}

export interface SharedBytes {
  buffer: SharedArrayBuffer;
  offset: number;
  length: number;
}

export type ToWorker =
  | { t: 'run'; spec: TransferSpec; data: SharedBytes }
  | { t: 'cancel'; id: number; result: TransferResult }
  /** Finish every transfer with `shutdown`, report them, then exit. */
  | { t: 'stop' }
  /** Diagnostics: answer with the number of transfers this worker holds. */
  | { t: 'probe'; seq: number };

/** Counter increments since the previous `stats` message. */
export interface StatsDelta {
  sentBytes: number;
  retransmittedBlocks: number;
  malformed: Record<string, number>;
  sendFailed: Record<string, number>;
}

export type FromWorker =
  | { t: 'ready' }
  | { t: 'stats'; delta: StatsDelta }
  | { t: 'confirmed'; id: number }
  | { t: 'finished'; id: number; result: TransferResult; seconds: number; fields: LogFields }
  | { t: 'setup-failed'; id: number; error: string }
  | { t: 'log'; level: 'warn' | 'error'; event: string; fields: LogFields }
  | { t: 'probe'; seq: number; transfers: number }
  /**
   * The start-up warm-up is over: `error` when it failed (the worker still runs transfers),
   * `loopback` when its real-socket part could not run (why).
   */
  | { t: 'warmed'; transfers: number; ms: number; error?: string; loopback?: string }
  | { t: 'stopped' };
