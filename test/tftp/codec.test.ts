import fc from 'fast-check';
import t from 'tap';
import {
  type DecodeErrorReason,
  decodePacket,
  encodeAck,
  encodeData,
  encodeDataHeader,
  encodeError,
  encodeOack,
  encodeRequest,
  peekAck,
} from '../../src/tftp/codec.js';
import { fromNetascii, toNetascii } from '../../src/tftp/netascii.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const z = (s: string) => Buffer.concat([Buffer.from(s, 'latin1'), Buffer.alloc(1)]);

t.test('golden: RRQ of a PXE ROM asking tsize and blksize (scenario 46)', async (t) => {
  const wire = Buffer.concat([
    hex('0001'),
    z('prologin.kpxe'),
    z('octet'),
    z('tsize'),
    z('0'),
    z('blksize'),
    z('1456'),
  ]);
  const d = decodePacket(wire);
  t.same(d, {
    ok: true,
    packet: {
      op: 'RRQ',
      filename: 'prologin.kpxe',
      mode: 'octet',
      options: [
        { name: 'tsize', value: '0' },
        { name: 'blksize', value: '1456' },
      ],
    },
  });
  t.same(
    encodeRequest({
      filename: 'prologin.kpxe',
      mode: 'octet',
      options: [
        { name: 'tsize', value: '0' },
        { name: 'blksize', value: '1456' },
      ],
    }),
    wire,
  );
});

t.test('golden: mode and option names are case-insensitive; values kept verbatim', async (t) => {
  const wire = Buffer.concat([
    hex('0001'),
    z('a/b.bin'),
    z('OcTeT'),
    z('BLKSIZE'),
    z('1468'),
    z('WindowSize'),
    z('16'),
  ]);
  const d = decodePacket(wire);
  t.ok(d.ok);
  if (!d.ok || d.packet.op !== 'RRQ') return;
  t.equal(d.packet.mode, 'octet');
  t.same(d.packet.options, [
    { name: 'blksize', value: '1468' },
    { name: 'windowsize', value: '16' },
  ]);
});

t.test('golden: trailing NUL padding after options is accepted, other trailing bytes are not', async (t) => {
  const base = Buffer.concat([hex('0001'), z('f'), z('octet'), z('tsize'), z('0')]);
  t.ok(decodePacket(Buffer.concat([base, hex('000000')])).ok, 'NUL padding');
  const bad = decodePacket(Buffer.concat([base, hex('0041')]));
  t.same(bad.ok ? undefined : bad.error.reason, 'trailing-bytes');
});

t.test('golden: WRQ, DATA, ACK, ERROR, OACK', async (t) => {
  t.same(decodePacket(Buffer.concat([hex('0002'), z('up.bin'), z('netascii')])), {
    ok: true,
    packet: { op: 'WRQ', filename: 'up.bin', mode: 'netascii', options: [] },
  });
  const data = decodePacket(hex('0003 ffff 010203'));
  t.ok(data.ok && data.packet.op === 'DATA' && data.packet.block === 65535);
  if (data.ok && data.packet.op === 'DATA') t.same([...data.packet.data], [1, 2, 3]);
  t.same(decodePacket(hex('0004 0102')), { ok: true, packet: { op: 'ACK', block: 258 } });
  t.same(decodePacket(hex('0004 0102 0000')), { ok: true, packet: { op: 'ACK', block: 258 } }, 'padded ACK');
  t.same(encodeError(1, 'File not found'), Buffer.concat([hex('0005 0001'), z('File not found')]));
  t.same(decodePacket(Buffer.concat([hex('0005 0001'), z('File not found')])), {
    ok: true,
    packet: { op: 'ERROR', code: 1, message: 'File not found' },
  });
  t.same(
    decodePacket(hex('0005 0008 4e6f')),
    { ok: true, packet: { op: 'ERROR', code: 8, message: 'No' } },
    'no NUL',
  );
  t.same(
    encodeOack([
      { name: 'tsize', value: '74320' },
      { name: 'blksize', value: '1456' },
    ]),
    Buffer.concat([hex('0006'), z('tsize'), z('74320'), z('blksize'), z('1456')]),
  );
  t.same(encodeAck(0), hex('00040000'));
  t.same(encodeDataHeader(65536), hex('00030000'), 'block 65536 wraps to 0 on the wire');
  t.same(encodeDataHeader(65537), hex('00030001'));
  t.same(encodeData(2, Buffer.from('hi')), hex('0003 0002 6869'));
  t.equal(peekAck(hex('0004 fffe')), 65534);
  t.equal(peekAck(hex('0003 0001')), -1);
  t.equal(peekAck(hex('0004 00')), -1);
});

t.test('golden: malformed packets come back as typed errors', async (t) => {
  const cases: Array<[string, Buffer, DecodeErrorReason]> = [
    ['empty', Buffer.alloc(0), 'too-short'],
    ['1 byte', hex('00'), 'too-short'],
    ['3-byte ACK', hex('000400'), 'too-short'],
    ['2-byte DATA', hex('0003'), 'too-short'],
    ['2-byte RRQ', hex('0001'), 'unterminated-string'],
    ['opcode 0', hex('0000 0000'), 'bad-opcode'],
    ['opcode 7', hex('0007 0000'), 'bad-opcode'],
    ['opcode 0x0100', hex('0100 0000'), 'bad-opcode'],
    ['RRQ filename without NUL', Buffer.concat([hex('0001'), Buffer.from('abc')]), 'unterminated-string'],
    ['RRQ without mode', Buffer.concat([hex('0001'), z('abc'), Buffer.from('oct')]), 'unterminated-string'],
    ['RRQ empty filename', Buffer.concat([hex('0001'), z(''), z('octet')]), 'empty-filename'],
    ['RRQ non-UTF-8 name', Buffer.concat([hex('0001 ff fe 00'), z('octet')]), 'bad-encoding'],
    [
      'option without value',
      Buffer.concat([hex('0001'), z('a'), z('octet'), Buffer.from('tsize')]),
      'unterminated-string',
    ],
    [
      'option value unterminated',
      Buffer.concat([hex('0001'), z('a'), z('octet'), z('tsize'), Buffer.from('0')]),
      'unterminated-string',
    ],
    [
      'duplicate option',
      Buffer.concat([hex('0001'), z('a'), z('octet'), z('blksize'), z('512'), z('BLKSIZE'), z('1468')]),
      'duplicate-option',
    ],
  ];
  for (const [name, wire, reason] of cases) {
    const d = decodePacket(wire);
    t.equal(d.ok ? 'ok' : d.error.reason, reason, name);
  }
});

const nameChar = fc.integer({ min: 1, max: 0x10ffff }).filter((c) => c < 0xd800 || c > 0xdfff);
const cstring = (min: number) =>
  fc.array(nameChar, { minLength: min, maxLength: 40 }).map((cs) => String.fromCodePoint(...cs));

t.test('property: decodePacket never throws on arbitrary bytes and returns a typed result', async (t) => {
  const reasons = new Set([
    'too-short',
    'bad-opcode',
    'unterminated-string',
    'empty-filename',
    'bad-encoding',
    'duplicate-option',
    'trailing-bytes',
  ]);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      const d = decodePacket(bytes);
      return d.ok
        ? typeof d.packet.op === 'string'
        : reasons.has(d.error.reason) && d.error.detail.length > 0;
    }),
    { numRuns: 20_000 },
  );
  // Biased towards request opcodes, where the parsing is.
  fc.assert(
    fc.property(fc.constantFrom(1, 2, 6), fc.uint8Array({ maxLength: 200 }), (op, rest) => {
      const d = decodePacket(Buffer.concat([Buffer.from([0, op]), rest]));
      return d.ok || reasons.has(d.error.reason);
    }),
    { numRuns: 20_000 },
  );
  t.pass('no exception in 40 000 random packets');
});

t.test('property: requests round-trip through encode/decode', async (t) => {
  const optionList = fc
    .uniqueArray(
      fc.tuple(
        cstring(1).map((s) => s.toLowerCase()),
        cstring(0),
      ),
      {
        maxLength: 6,
        selector: ([name]) => name,
      },
    )
    .filter((opts) => opts.every(([name]) => name.toLowerCase() === name));
  fc.assert(
    fc.property(
      fc.constantFrom<'RRQ' | 'WRQ'>('RRQ', 'WRQ'),
      cstring(1),
      fc.constantFrom('octet', 'netascii', 'mail', 'x'),
      optionList,
      (op, filename, mode, opts) => {
        const options = opts.map(([name, value]) => ({ name, value }));
        const d = decodePacket(encodeRequest({ op, filename, mode, options }));
        t.same(d, { ok: true, packet: { op, filename, mode, options } });
        return d.ok;
      },
    ),
    { numRuns: 3000 },
  );
});

t.test('property: every prefix of a valid request decodes or fails cleanly', async (t) => {
  fc.assert(
    fc.property(cstring(1), fc.nat(200), (filename, cut) => {
      const wire = encodeRequest({ filename, mode: 'octet', options: [{ name: 'blksize', value: '1468' }] });
      const d = decodePacket(wire.subarray(0, Math.min(cut, wire.length)));
      // A prefix is valid only if it ends exactly on a NUL after the mode or after a full option.
      return d.ok ? d.packet.op === 'RRQ' : typeof d.error.reason === 'string';
    }),
    { numRuns: 5000 },
  );
  t.pass();
});

t.test('property: ACK, DATA, ERROR and OACK round-trip', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffff }), fc.uint8Array({ maxLength: 1468 }), (block, data) => {
      const ack = decodePacket(encodeAck(block));
      const dat = decodePacket(encodeData(block, data));
      return (
        ack.ok &&
        ack.packet.op === 'ACK' &&
        ack.packet.block === block &&
        peekAck(encodeAck(block)) === block &&
        dat.ok &&
        dat.packet.op === 'DATA' &&
        dat.packet.block === block &&
        Buffer.compare(Buffer.from(dat.packet.data), Buffer.from(data)) === 0
      );
    }),
  );
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffff }),
      fc.string({ unit: fc.constantFrom(...'abc XYZ:.-'.split('')) }),
      (code, message) => {
        const d = decodePacket(encodeError(code, message));
        return d.ok && d.packet.op === 'ERROR' && d.packet.code === code && d.packet.message === message;
      },
    ),
  );
  fc.assert(
    fc.property(
      fc.uniqueArray(
        fc.tuple(
          cstring(1).map((s) => s.toLowerCase()),
          cstring(0),
        ),
        { maxLength: 5, selector: ([n]) => n },
      ),
      (opts) => {
        const options = opts.filter(([n]) => n === n.toLowerCase()).map(([name, value]) => ({ name, value }));
        const d = decodePacket(encodeOack(options));
        t.same(d, { ok: true, packet: { op: 'OACK', options } });
        return d.ok;
      },
    ),
    { numRuns: 1000 },
  );
});

t.test('netascii: LF -> CR LF, CR -> CR NUL, and back', async (t) => {
  t.same(toNetascii(Buffer.from('a\nb\rc\r\n')), Buffer.from('a\r\nb\r\0c\r\0\r\n', 'latin1'));
  t.same(toNetascii(Buffer.from('plain')), Buffer.from('plain'));
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const there = toNetascii(bytes);
      const back = fromNetascii(there);
      return Buffer.compare(back, Buffer.from(bytes)) === 0;
    }),
    { numRuns: 3000 },
  );
});
