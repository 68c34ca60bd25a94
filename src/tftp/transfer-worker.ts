/**
 * Entry point of a TFTP transfer worker thread (`tftp.workers` > 1, see worker-pool.ts). It runs
 * the transfers the main thread hands it with a TransferRunner of its own (own sockets, own timer
 * wheel) and posts back what the main thread needs to log, count and free slots: confirmations,
 * one `finished` per transfer, counter increments (batched; flushed before every confirmation or
 * end so the main thread's metrics are current when it logs a transfer).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { errorMessage } from '../errors.js';
import { memorySource } from './file-cache.js';
import { TransferRunner } from './runner.js';
import { loopbackWarmup, warmInSlices } from './warmup.js';
import type { FromWorker, StatsDelta, ToWorker, WorkerInit } from './worker-protocol.js';

const port = parentPort;
if (!port) throw new Error('transfer-worker.ts runs as a worker thread (tftp.workers), not on its own');
const init = workerData as WorkerInit;
const STATS_FLUSH_MS = 250;

const post = (m: FromWorker) => port.postMessage(m);

let delta: StatsDelta = emptyDelta();
let dirty = false;
let flushTimer: NodeJS.Timeout | undefined;

function emptyDelta(): StatsDelta {
  return { sentBytes: 0, retransmittedBlocks: 0, malformed: {}, sendFailed: {} };
}

function touched(): void {
  dirty = true;
  flushTimer ??= setTimeout(flush, STATS_FLUSH_MS);
}

function flush(): void {
  if (flushTimer) clearTimeout(flushTimer);
  flushTimer = undefined;
  if (!dirty) return;
  post({ t: 'stats', delta });
  delta = emptyDelta();
  dirty = false;
}

const runner = new TransferRunner(
  {
    confirmed(id) {
      flush();
      post({ t: 'confirmed', id });
    },
    finished(id, result, seconds, fields) {
      flush();
      post({ t: 'finished', id, result, seconds, fields });
    },
    setupFailed(id, error) {
      flush();
      post({ t: 'setup-failed', id, error });
    },
    sent(bytes) {
      delta.sentBytes += bytes;
      touched();
    },
    retransmitted(blocks) {
      delta.retransmittedBlocks += blocks;
      touched();
    },
    sendFailed(code) {
      delta.sendFailed[code] = (delta.sendFailed[code] ?? 0) + 1;
      touched();
    },
    malformed(reason) {
      delta.malformed[reason] = (delta.malformed[reason] ?? 0) + 1;
      touched();
    },
  },
  init.tickMs,
);

let stopping = false;

port.on('message', (m: ToWorker) => {
  try {
    switch (m.t) {
      case 'run':
        if (stopping) {
          const { id, client, local, file } = m.spec;
          const fields = {
            client: `${client.address}:${client.port}`,
            local,
            file,
            result: 'shutdown',
            stage: 'setup',
          };
          post({ t: 'finished', id, result: 'shutdown', seconds: 0, fields });
          return;
        }
        runner.run(m.spec, memorySource(Buffer.from(m.data.buffer, m.data.offset, m.data.length)));
        return;
      case 'cancel':
        runner.cancel(m.id, m.result);
        return;
      case 'probe':
        post({ t: 'probe', seq: m.seq, transfers: runner.size });
        return;
      case 'stop':
        if (stopping) return;
        stopping = true;
        void runner.stopAll().then(() => {
          flush();
          post({ t: 'stopped' });
          // Nothing else holds the event loop: closing the port lets the thread end by itself.
          port.close();
        });
        return;
    }
  } catch (e) {
    post({ t: 'log', level: 'error', event: 'tftp.internal_error', fields: { error: errorMessage(e) } });
  }
});

post({ t: 'ready' });

/** After the in-memory transfers, a few real ones to itself over 127.0.0.1 (warmup.ts). */
const LOOPBACK_TRANSFERS = 32;
const LOOPBACK_CONCURRENT = 8;

async function warmUp(transfers: number): Promise<void> {
  let done = { completed: 0, ms: 0 };
  try {
    done = await warmInSlices(transfers, () => stopping);
    let loopback: string | undefined;
    if (!stopping) {
      try {
        done.ms += await loopbackWarmup(LOOPBACK_TRANSFERS, LOOPBACK_CONCURRENT);
      } catch (e) {
        loopback = errorMessage(e);
      }
    }
    post({ t: 'warmed', transfers: done.completed, ms: done.ms, loopback });
  } catch (e) {
    post({ t: 'warmed', transfers: done.completed, ms: done.ms, error: errorMessage(e) });
  }
}

if (init.warmupTransfers > 0) void warmUp(init.warmupTransfers);
