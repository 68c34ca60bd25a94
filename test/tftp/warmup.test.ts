/**
 * Issue 13: a boot storm must not meet fresh worker isolates that compile the transfer path on
 * the storm's CPU. `tftp.warmWorkers` threads start with the service, run `tftp.warmupTransfers`
 * synthetic transfers (in memory, then a few over 127.0.0.1) and stay while idle; the warm-up is
 * never seen as a client transfer (logs, metrics); 0 turns each part off.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { createMemoryLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics.js';
import { tftpGet } from '../../src/tftp/client.js';
import { type TftpConfig, tftpConfigSchema } from '../../src/tftp/config.js';
import { TftpServer } from '../../src/tftp/server.js';
import { transferWarmup } from '../../src/tftp/warmup.js';
import { WorkerPool } from '../../src/tftp/worker-pool.js';
import { tempDir } from '../helpers/tmp.js';
import { loggingPoolEvents, metric, waitFor } from './helpers.js';

const workerUrl = new URL('../../src/tftp/transfer-worker.ts', import.meta.url);

async function start(t: Parameters<typeof tempDir>[0], tftp: Partial<TftpConfig>) {
  const root = tempDir(t, 'ghtwarm-');
  fs.writeFileSync(path.join(root, 'undionly.kpxe'), Buffer.alloc(74_000, 7));
  const logger = createMemoryLogger('debug');
  const metrics = new Metrics();
  const server = new TftpServer(
    tftpConfigSchema.parse({ root, listen: ['127.0.0.1:0'], warmupRequests: 0, ...tftp }),
    logger,
    metrics,
  );
  await server.start();
  t.teardown(() => server.stop());
  return { server, logs: logger.records, metrics, port: server.addresses()[0]!.port };
}

t.test('the synthetic transfers run the whole transfer path and end as expected', async (t) => {
  const warmup = transferWarmup();
  warmup.run(40);
  warmup.run(24);
  t.equal(warmup.completed, 64, 'every transfer ended (ok, or client-error for the tsize-only ones)');
});

t.test(
  'kept workers are started and warmed up at start, and nothing of it counts as a transfer',
  async (t) => {
    const h = await start(t, { workers: 2, warmWorkers: 2, warmupTransfers: 40 });
    await h.server.warmedUp();
    t.equal(h.server.workerThreads().length, 2, 'two worker threads before any request');
    const warmed = h.logs.filter((l) => l.event === 'tftp.warmed_up');
    t.equal(warmed.length, 1, 'one tftp.warmed_up line');
    t.match(warmed[0], { level: 'info', threads: 2, transfersPerThread: 40 });
    t.notOk('loopbackSkipped' in warmed[0]!, 'the transfers over 127.0.0.1 ran');
    t.notOk(
      h.logs.some((l) => l.event === 'tftp.warmup_failed' || l.event === 'tftp.transfer'),
      'no failure, no transfer line',
    );
    const text = await h.metrics.text();
    t.equal(metric(text, 'gatehouse_tftp_transfers_total', { result: 'ok' }), 0, 'no transfer counted');
    t.equal(metric(text, 'gatehouse_tftp_sent_bytes_total'), 0, 'no byte counted');
    t.same(await h.server.probeWorkers(), [0, 0], 'the workers hold no transfer');

    const got = await tftpGet({
      host: '127.0.0.1',
      port: h.port,
      file: 'undionly.kpxe',
      options: { blksize: 1456, tsize: 0 },
    });
    t.equal(got.bytes, 74_000, 'a real client is served');
    await waitFor(() => h.logs.some((l) => l.event === 'tftp.transfer'), 5000, 'the transfer line');
    const after = await h.metrics.text();
    t.equal(
      metric(after, 'gatehouse_tftp_transfers_total', { result: 'ok' }),
      1,
      'exactly the real one counted',
    );
    t.equal(
      metric(after, 'gatehouse_tftp_transfers_started_total', { runner: 'worker' }),
      1,
      'run by a worker',
    );
  },
);

t.test('warmWorkers: 0 starts no thread before a transfer; warmupTransfers: 0 keeps them cold', async (t) => {
  const none = await start(t, { workers: 2, warmWorkers: 0 });
  await none.server.warmedUp();
  t.equal(none.server.workerThreads().length, 0, 'no thread');
  t.notOk(
    none.logs.some((l) => l.event === 'tftp.warmed_up'),
    'no warm-up',
  );

  const cold = await start(t, { workers: 2, warmWorkers: 1, warmupTransfers: 0 });
  await cold.server.warmedUp();
  t.equal(cold.server.workerThreads().length, 1, 'one kept thread');
  t.notOk(
    cold.logs.some((l) => l.event === 'tftp.warmed_up'),
    'not warmed up',
  );
});

t.test('with workers: 1 the main thread warms up its own transfer path', async (t) => {
  const h = await start(t, { workers: 1, warmupTransfers: 20 });
  await h.server.warmedUp();
  t.equal(h.server.workerThreads().length, 0, 'no thread');
  t.match(
    h.logs.find((l) => l.event === 'tftp.warmed_up'),
    { threads: 1, transfersPerThread: 20 },
  );
});

t.test('kept workers survive idleMs; the others end', async (t) => {
  const events = loggingPoolEvents();
  const { logged } = events;
  const pool = new WorkerPool({
    max: 2,
    tickMs: 50,
    url: workerUrl,
    events,
    idleMs: 1000,
  });
  t.teardown(() => pool.stop());
  const reports = await pool.keepWarm(1, 16);
  t.equal(reports.length, 1, 'one kept worker started');
  t.match(reports[0], { transfers: 16 });
  t.equal(reports[0]!.error, undefined, 'warm-up succeeded');
  pool.prestart(2);
  t.equal(pool.live, 2, 'two threads after a storm');
  await waitFor(() => pool.live === 1, 20_000, 'the extra worker to end');
  t.equal(logged.filter((e) => e === 'tftp.worker_idle_stopped').length, 1, 'it ended');
  t.equal(pool.threads()[0]?.threadId, reports[0]!.threadId, 'the warmed-up one is the one kept');
  // Several idle periods later the kept one still runs.
  await new Promise((r) => setTimeout(r, 3000));
  t.equal(pool.live, 1, 'the kept worker survives');
  t.equal(logged.filter((e) => e === 'tftp.worker_idle_stopped').length, 1, 'and was never stopped');
});
