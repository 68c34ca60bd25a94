/**
 * The warm keeper (src/warm-keeper.ts): after a full GC it re-runs the warm-ups once the process
 * has been idle for `quietMs`, never while busy, at most once per `minIntervalMs`, and not after
 * stop. Timings are shortened; the process CPU is the test's own counter.
 */
import t from 'tap';
import { createMemoryLogger } from '../src/log.js';
import { WarmKeeper } from '../src/warm-keeper.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for `cond` (a loaded CI box may run timers late), failing after 5 s. */
async function until(cond: () => boolean): Promise<void> {
  for (const t0 = Date.now(); !cond(); await sleep(10))
    if (Date.now() - t0 > 5000) throw new Error('condition not met within 5 s');
}

function keeper(opts: { minIntervalMs?: number } = {}) {
  let cpuMicros = 0;
  let clockMs = 0;
  let busy = false;
  let rewarms = 0;
  const outcomes: string[] = [];
  const logger = createMemoryLogger('info');
  const k = new WarmKeeper({
    logger,
    counted: (o) => outcomes.push(o),
    quietMs: 40,
    idleCpuShare: 0.05,
    minIntervalMs: opts.minIntervalMs ?? 0,
    // A busy process: a full second of CPU between any two readings.
    cpuMicros: () => (cpuMicros += busy ? 1e6 : 0),
    // The interval is kept on this clock, moved by the test: quietMs runs on real timers.
    now: () => clockMs,
    rewarm: async () => {
      rewarms++;
    },
  });
  return {
    k,
    logger,
    outcomes,
    rewarms: () => rewarms,
    setBusy: (b: boolean) => {
      busy = b;
    },
    advance: (ms: number) => {
      clockMs += ms;
    },
  };
}

t.test('nothing happens without a full GC', async (t) => {
  const h = keeper();
  h.k.start();
  t.teardown(() => h.k.stop());
  await sleep(120);
  t.equal(h.rewarms(), 0);
});

t.test('a full GC on an idle appliance: one re-warm after quietMs, one line saying why', async (t) => {
  const h = keeper();
  t.teardown(() => h.k.stop());
  h.k.fullGc();
  h.k.fullGc();
  await sleep(10);
  t.equal(h.rewarms(), 0, 'not before quietMs');
  await until(() => h.rewarms() > 0);
  await h.k.rewarmed();
  await sleep(100);
  t.equal(h.rewarms(), 1, 'one re-warm for both GCs');
  const line = h.logger.records.find((l) => l.event === 'warmup.rewarmed');
  t.equal(line?.fullGcs, 2);
  t.equal(line?.reason, 'full GC while idle');
  t.same(h.outcomes, ['done'], 'counted once (gatehouse_warmup_rewarms_total)');
});

t.test('while the appliance is busy (a storm), the re-warm waits until it is idle', async (t) => {
  const h = keeper();
  t.teardown(() => h.k.stop());
  h.setBusy(true);
  h.k.fullGc();
  await sleep(150);
  t.equal(h.rewarms(), 0, 'not while busy');
  h.setBusy(false);
  await until(() => h.rewarms() > 0);
  t.equal(h.rewarms(), 1, 'once idle');
});

t.test('at most one re-warm per minIntervalMs', async (t) => {
  const h = keeper({ minIntervalMs: 600_000 });
  t.teardown(() => h.k.stop());
  h.k.fullGc();
  await until(() => h.rewarms() === 1);
  h.advance(599_000);
  h.k.fullGc();
  // Several quiet periods (40 ms) go by: each check finds the interval not over.
  await sleep(200);
  t.equal(h.rewarms(), 1, 'the second GC waits for the interval');
  h.advance(1_000);
  await until(() => h.rewarms() === 2);
  t.pass('then re-warms, once the interval is over');
});

t.test('a failed re-warm is one warning; stop cancels a pending one', async (t) => {
  const logger = createMemoryLogger('info');
  const outcomes: string[] = [];
  const k = new WarmKeeper({
    logger,
    quietMs: 20,
    minIntervalMs: 0,
    cpuMicros: () => 0,
    rewarm: () => Promise.reject(new Error('no loopback')),
    counted: (o) => outcomes.push(o),
  });
  k.fullGc();
  await until(() => logger.records.some((l) => l.event === 'warmup.rewarm_failed'));
  t.match(
    logger.records.find((l) => l.event === 'warmup.rewarm_failed'),
    { error: /no loopback/ },
  );
  t.same(outcomes, ['failed']);
  let after = 0;
  const k2 = new WarmKeeper({
    logger,
    quietMs: 20,
    minIntervalMs: 0,
    cpuMicros: () => 0,
    rewarm: async () => void after++,
  });
  k2.fullGc();
  k2.stop();
  await sleep(60);
  t.equal(after, 0);
});
