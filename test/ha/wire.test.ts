import fc from 'fast-check';
import t from 'tap';
import { decodeMessage, encodeMessage, LineSplitter } from '../../src/ha/wire.js';

t.test('row values survive the stream, bytes included (DHCP lease blocks)', async (t) => {
  const value = fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc.jsonValue(),
    fc.record({ a: fc.string(), b: fc.uint8Array({ maxLength: 8 }), c: fc.array(fc.integer()) }),
  );
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.string(), fc.oneof(fc.string(), fc.integer()), value)), (rows) => {
      const line = encodeMessage({ k: 'rows', rows });
      t.equal(line.indexOf('\n'), line.length - 1, 'one line');
      const back = decodeMessage(line);
      t.same(back, { k: 'rows', rows });
    }),
    { numRuns: 200 },
  );
  // lmdb hands back Buffers: their toJSON must not win.
  const buf = Buffer.from([1, 2, 3, 250]);
  const back = decodeMessage(encodeMessage({ k: 'rows', rows: [['dhcp_leases', '10.0.0.0/24', buf]] }));
  t.ok(back.k === 'rows' && back.rows[0]![2] instanceof Uint8Array);
  t.same([...(back as { rows: Array<[string, string, Uint8Array]> }).rows[0]![2]], [1, 2, 3, 250]);
});

t.test('lines are split across chunks', async (t) => {
  const s = new LineSplitter();
  t.same(s.push('{"k":"end"}\n{"k":'), ['{"k":"end"}']);
  t.same(s.push('"end"}\n'), ['{"k":"end"}']);
  t.same(s.push(''), []);
});
