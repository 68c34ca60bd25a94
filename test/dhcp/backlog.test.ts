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
