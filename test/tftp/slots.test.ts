import t from 'tap';
import { SlotTable } from '../../src/tftp/slots.js';

t.test('per-client limit evicts that client’s oldest unconfirmed slot, never a confirmed one', async (t) => {
  const table = new SlotTable<string>({ maxTransfers: 100, maxTransfersPerClient: 2 });
  const a1 = table.admit('10.0.0.1', 'a1');
  const a2 = table.admit('10.0.0.1', 'a2');
  if (a1.kind !== 'admitted' || a2.kind !== 'admitted') throw new Error('admit');
  table.confirm(a1.slot);
  const a3 = table.admit('10.0.0.1', 'a3');
  t.match(a3, { kind: 'admitted' });
  if (a3.kind !== 'admitted') return;
  t.same(
    a3.evicted.map((s) => s.key),
    ['a2'],
    'the unconfirmed one went',
  );
  t.ok(a2.slot.released);
  t.notOk(table.has('a2'));
  table.confirm(a3.slot);
  t.same(
    table.admit('10.0.0.1', 'a4'),
    { kind: 'refused', reason: 'client-limit' },
    'all confirmed: refused',
  );
  t.equal(table.clientCount('10.0.0.1'), 2);
  t.match(table.admit('10.0.0.2', 'b1'), { kind: 'admitted', evicted: [] }, 'other clients unaffected');
});

t.test(
  'total limit evicts the oldest unconfirmed slot of anyone; busy only when all are confirmed',
  async (t) => {
    const table = new SlotTable<string>({ maxTransfers: 3, maxTransfersPerClient: 10 });
    const keys = ['x', 'y', 'z'];
    const slots = keys.map((k, i) => {
      const r = table.admit(`10.0.0.${i}`, k);
      if (r.kind !== 'admitted') throw new Error('admit');
      return r.slot;
    });
    table.confirm(slots[0]!);
    const n = table.admit('10.0.0.9', 'n');
    t.match(n, { kind: 'admitted' });
    if (n.kind === 'admitted')
      t.same(
        n.evicted.map((s) => s.key),
        ['y'],
        'oldest unconfirmed (x is confirmed)',
      );
    t.equal(table.size, 3);
    t.equal(table.clientCount('10.0.0.1'), 0, 'evicted client forgotten');
    for (const s of table.slots()) table.confirm(s);
    t.same(table.admit('10.0.0.10', 'm'), { kind: 'refused', reason: 'busy' });
    t.equal(table.unconfirmedCount, 0);
  },
);

t.test('release is idempotent and frees every index', async (t) => {
  const table = new SlotTable<string>({ maxTransfers: 3, maxTransfersPerClient: 3 });
  const r = table.admit('10.0.0.1', 'k');
  if (r.kind !== 'admitted') throw new Error('admit');
  table.release(r.slot);
  table.release(r.slot);
  t.equal(table.size, 0);
  t.notOk(table.has('k'));
  t.equal(table.clientCount('10.0.0.1'), 0);
  table.confirm(r.slot);
  t.equal(table.unconfirmedCount, 0, 'confirming a released slot does nothing');
});

t.test('a sustained flood never starves a confirmed transfer, and newcomers always get in', async (t) => {
  const table = new SlotTable<string>({ maxTransfers: 50, maxTransfersPerClient: 4 });
  const legit = table.admit('10.0.0.1', 'legit');
  if (legit.kind !== 'admitted') throw new Error('admit');
  table.confirm(legit.slot);
  for (let i = 0; i < 100_000; i++) {
    const r = table.admit(`10.1.${(i >> 8) & 0xff}.${i & 0xff}`, `f${i}`);
    if (r.kind !== 'admitted') {
      t.fail(`flood request ${i} refused: ${r.reason}`);
      break;
    }
  }
  t.notOk(legit.slot.released, 'confirmed transfer survived 100 000 flood requests');
  t.equal(table.size, 50);
  t.match(table.admit('10.0.0.2', 'newcomer'), { kind: 'admitted' });
});
