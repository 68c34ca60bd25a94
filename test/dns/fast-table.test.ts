import t from 'tap';
import { FNV_OFFSET, FastTable, fnv } from '../../src/dns/fast-table.js';
import { nameToWire } from '../../src/dns/names.js';

/** A response-shaped buffer: 12-byte header, lowercase question name, QTYPE, class, payload. */
function response(name: string, qtype: number, payload = 'x'): Buffer {
  const wire = nameToWire(name);
  const b = Buffer.alloc(12 + wire.length + 4 + payload.length);
  wire.copy(b, 12);
  b.writeUInt16BE(qtype, 12 + wire.length);
  b.writeUInt16BE(1, 14 + wire.length);
  b.write(payload, 16 + wire.length);
  return b;
}

function keyOf(name: string, qtype: number): { hash: number; q: Buffer; nameEnd: number } {
  const q = response(name, qtype, '');
  let h = FNV_OFFSET;
  const wire = nameToWire(name.toLowerCase());
  for (let i = 0; i < wire.length - 1; i++) h = fnv(h, wire[i]!);
  h = fnv(fnv(fnv(h, 0), qtype >> 8), qtype & 0xff);
  return { hash: h, q, nameEnd: 12 + wire.length };
}

t.test('hits are confirmed by bytes, case-insensitively; misses return -1', async (t) => {
  const ft = new FastTable(8);
  const r = response('mdb.prolo', 1, 'payload');
  const k = keyOf('mdb.prolo', 1);
  ft.add(k.hash, r);
  const mixed = keyOf('MdB.PROLO', 1);
  t.equal(mixed.hash, k.hash, 'hash of the lowercase name');
  const slot = ft.find(mixed.hash, mixed.q, mixed.nameEnd, 1);
  t.ok(slot >= 0);
  t.same(Buffer.from(ft.bytes.subarray(ft.offsetOf(slot), ft.offsetOf(slot) + ft.lengthOf(slot))), r);
  t.equal(ft.find(k.hash, keyOf('mdb.prolo', 28).q, k.nameEnd, 28), -1, 'other QTYPE');
  const other = keyOf('mdx.prolo', 1);
  t.equal(
    ft.find(k.hash, other.q, other.nameEnd, 1),
    -1,
    'same hash, other name: rejected by the byte check',
  );
});

t.test('colliding hashes probe onward; capacity and arena bounds stop growth', async (t) => {
  const ft = new FastTable(4, 1000);
  for (let i = 0; i < 10; i++) ft.add(42, response(`n${i}.prolo`, 1));
  t.equal(ft.size, 4, 'capacity bound');
  for (let i = 0; i < 4; i++) {
    const k = keyOf(`n${i}.prolo`, 1);
    t.ok(ft.find(42, k.q, k.nameEnd, 1) >= 0, `n${i} found past collisions`);
  }
  const small = new FastTable(100, 200);
  for (let i = 0; i < 20; i++) small.add(i, response(`n${i}.prolo`, 1, 'y'.repeat(50)));
  t.ok(small.size < 20 && small.bytes.length <= 200, `arena bound (${small.size} stored)`);
});
