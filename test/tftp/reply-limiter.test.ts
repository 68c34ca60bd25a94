/** Token buckets for the listening port's ERROR replies (src/tftp/reply-limiter.ts), on a fake clock. */
import t from 'tap';
import { ReplyLimiter } from '../../src/tftp/reply-limiter.js';

t.test('per-source burst then refill; the global bucket caps everyone together', async (t) => {
  let now = 0;
  const lim = new ReplyLimiter(
    { perClientBurst: 3, perClientPerSecond: 2, burst: 5, perSecond: 1 },
    () => now,
  );
  const take = (src: string, n: number) =>
    Array.from({ length: n }, () => lim.allow(src)).filter(Boolean).length;
  t.equal(take('a', 10), 3, 'a burst of 3 for one source');
  now += 1000;
  t.equal(take('a', 10), 2, '2 more after a second (2/s)');
  t.equal(take('b', 10), 1, 'b gets only the last token of the global bucket (5, 1/s)');
  now += 2000;
  t.equal(take('b', 10), 2, 'the global refill (1/s) is what b gets');
  lim.setLimits({ perClientBurst: 3, perClientPerSecond: 2, burst: 1000, perSecond: 1000 });
  now += 10_000;
  t.equal(take('c', 10), 3, 'reload: new global limits apply');
});

t.test('the number of remembered sources is bounded', async (t) => {
  const lim = new ReplyLimiter(
    { perClientBurst: 1, perClientPerSecond: 1, burst: 1e6, perSecond: 1e6 },
    () => 0,
  );
  for (let i = 0; i < 20_000; i++) lim.allow(`10.0.${i >> 8}.${i & 255}`);
  t.ok(lim.trackedSources <= 10_000, `${lim.trackedSources} sources tracked`);
});
