import t from 'tap';
import { WorkerPool } from '../../src/tftp/worker-pool.js';
import { loggingPoolEvents } from './helpers.js';

const workerUrl = new URL('../../src/tftp/transfer-worker.ts', import.meta.url);

/** Issue 15 item 5: threads left over from a boot storm give their memory back when idle. */
t.test('idle transfer workers end after idleMs; the next demand starts them again', async (t) => {
  let live = -1;
  const events = loggingPoolEvents({
    resized: (n) => {
      live = n;
    },
  });
  const { logged } = events;
  const pool = new WorkerPool({ max: 2, tickMs: 50, url: workerUrl, events, idleMs: 3000 });
  t.teardown(() => pool.stop());
  pool.prestart(2);
  await pool.ready();
  t.equal(pool.live, 2, 'two threads running');
  const until = Date.now() + 15_000;
  while (pool.threads().length > 0 || live !== 0) {
    if (Date.now() > until) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  t.equal(pool.live, 0, 'both ended after being idle');
  t.equal(live, 0, 'the workers gauge follows');
  t.equal(logged.filter((e) => e === 'tftp.worker_idle_stopped').length, 2, 'one info line each');
  t.notOk(logged.includes('tftp.worker_exited'), 'not mistaken for a crash (no respawn)');
  pool.prestart(1);
  await pool.ready();
  t.equal(pool.live, 1, 'started again on demand');
});
