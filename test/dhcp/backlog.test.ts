import t from 'tap';
import { BacklogEstimator } from '../../src/dhcp/backlog.js';
import { peekMessageType } from '../../src/dhcp/codec.js';
import { clientBytes } from './helpers.js';

t.test('backlog estimate: no shedding before a rate is measured, then queue / rate', async (t) => {
  const b = new BacklogEstimator();
  t.equal(b.delayMs(10_000_000), 0, 'unknown rate: never shed');
  b.observe(0, 1536, 2, false);
  b.observe(1, 768, 1, false);
  b.observe(2, 2304, 3, false);
  t.equal(b.packetBytes, 768, 'the smallest queue seen is one datagram: the kernel truesize');
  t.equal(b.packetsIn(768 * 5), 5);
  t.equal(b.packetsIn(10), 1, 'any queued byte is at least one datagram');
  t.equal(b.packetsIn(0), 0);
  // Busy: full batches of 64 every 2 ms = 32 packets/ms.
  for (let now = 10; now < 30; now += 2) b.observe(now, 500_000, 64, true);
  const queued = 768 * 32_000; // 32 000 packets at 32/ms = 1 s
  t.ok(Math.abs(b.delayMs(queued) - 1000) < 1, `delay ~1000 ms (${b.delayMs(queued)})`);
  t.equal(b.excess(queued, 500), 16_000, 'drop half to get down to 500 ms');
  t.equal(b.excess(768 * 100, 500), 0);
  b.observe(40, 768, 3, false);
  b.observe(50, 500_000, 64, true);
  t.ok(b.delayMs(queued) > 0, 'a busy period after a pause keeps the earlier rate');
});

t.test('peekMessageType finds option 53 without decoding', async (t) => {
  t.equal(peekMessageType(clientBytes({ type: 'DISCOVER', mac: '02:00:00:00:00:01' }), 0), 1);
  t.equal(
    peekMessageType(clientBytes({ type: 'REQUEST', mac: '02:00:00:00:00:01', requested: '10.0.0.1' }), 0),
    3,
  );
  t.equal(peekMessageType(new Uint8Array(100), 0), 0);
  const truncated = clientBytes({ type: 'DISCOVER', mac: '02:00:00:00:00:01' }).subarray(0, 241);
  t.equal(peekMessageType(truncated, 0), 0);
});

/** A backlog read at 1 packet/ms (a cold or starved server) in full batches of 64. */
function slowServer(): BacklogEstimator {
  const b = new BacklogEstimator();
  b.observe(0, 768, 1, false);
  for (let now = 0; now <= 640; now += 64) b.observe(now, 768 * 1000, 64, true);
  return b;
}

t.test('a draining burst is not shed, however long its estimated wait', async (t) => {
  // Issue 13: 1000 DISCOVERs at once, worked off at ~1 packet/ms (cold code, busy box): the
  // estimate starts near 1000 ms, over the 500 ms bound, but falls as the queue drains.
  const b = slowServer();
  let queued = 1000;
  let shed = 0;
  for (let now = 1000; queued > 0; now += 64) {
    if (b.shouldShed(now, 768 * queued, 500)) shed++;
    b.observe(now, 768 * queued, 64, queued > 64);
    // Each OFFER brings its REQUEST back to the queue's tail: it drains at half the rate.
    queued = Math.max(0, queued - 32);
  }
  t.equal(shed, 0, 'never shed');
  t.notOk(b.overloaded);
});

t.test(
  'a backlog that does not drain is shed after the bound, then at once until a calm second',
  async (t) => {
    const b = slowServer();
    const full = 768 * 1000; // ~1000 ms at 1 packet/ms, and it stays so (a flood)
    t.notOk(b.shouldShed(1000, full, 500), 'over the bound, but only just now');
    t.notOk(b.shouldShed(1300, full, 500), 'not yet sustained for 500 ms');
    t.ok(b.shouldShed(1500, full, 500), 'sustained for 500 ms without draining: shed');
    t.ok(b.overloaded);
    t.notOk(b.shouldShed(1510, 768 * 300, 500), 'below the bound after shedding: nothing to drop');
    t.ok(b.shouldShed(1520, full, 500), 'in the shedding state an excess is shed at once');
    b.observe(1600, 768, 1, false);
    b.observe(2700, 768, 1, false);
    t.notOk(b.overloaded, 'a calm second ends the shedding state');
    t.notOk(b.shouldShed(2710, full, 500), 'a new backlog must again last 500 ms');
  },
);

t.test('a queue that stops draining is shed once its wait stays put for the bound', async (t) => {
  const b = slowServer();
  let now = 1000;
  let queued = 1000;
  let shedAt = -1;
  for (; now < 4000 && shedAt < 0; now += 64) {
    if (b.shouldShed(now, 768 * queued, 500)) shedAt = now;
    b.observe(now, 768 * queued, 64, true);
    if (now < 1600) queued -= 40; // draining for a while, then retransmissions keep it full
  }
  t.ok(shedAt >= 1600 + 500 - 64, `shed only 500 ms after it stopped draining (${shedAt})`);
});
