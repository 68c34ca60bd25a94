import * as dnsPacket from 'dns-packet';
import fc from 'fast-check';
import t from 'tap';
import { Flag, RRType, Rcode } from '../../src/dns/constants.js';
import { decodeMessage, readName } from '../../src/dns/decode.js';
import { MessageWriter } from '../../src/dns/encode.js';
import {
  canonicalName,
  formatLabel,
  nameLabels,
  nameToWire,
  qualify,
  relativeName,
} from '../../src/dns/names.js';
import type { ResourceRecord } from '../../src/dns/records.js';
import { wireKey } from '../../src/dns/snapshot.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

t.test('golden: an A answer compresses its owner to the question (RFC 1035 §4.1.4)', async (t) => {
  const w = new MessageWriter();
  w.header(0x1234, Flag.QR | Flag.AA);
  w.question('mdb.prolo', RRType.A, 1);
  w.record(1, {
    name: 'mdb.prolo',
    type: RRType.A,
    class: 1,
    ttl: 10,
    data: { kind: 'a', address: '192.168.1.254' },
  });
  t.same(
    w.finish().toString('hex'),
    hex(`1234 8400 0001 0001 0000 0000
         036d6462 0570726f6c6f 00 0001 0001
         c00c 0001 0001 0000000a 0004 c0a801fe`).toString('hex'),
  );
});

t.test('golden: SOA owner, MNAME and RNAME all reuse earlier suffixes', async (t) => {
  const w = new MessageWriter();
  w.header(7, Flag.QR | Flag.AA | Rcode.NXDOMAIN);
  w.question('nosuch.prolo', RRType.A, 1);
  w.record(2, {
    name: 'prolo',
    type: RRType.SOA,
    class: 1,
    ttl: 10,
    data: {
      kind: 'soa',
      mname: 'ns.prolo',
      rname: 'hostmaster.ns.prolo',
      serial: 1,
      refresh: 1200,
      retry: 60,
      expire: 360000,
      minimum: 10,
    },
  });
  // Question name at 12: 06 nosuch (7 bytes), then "prolo" at 19 (0x13); the question ends at
  // 30 where the SOA RR starts (2-byte owner pointer + 10 fixed bytes), so MNAME's "ns" label
  // is at 42 (0x2a) and RNAME points there.
  t.same(
    w.finish().toString('hex'),
    hex(`0007 8403 0001 0000 0001 0000
         066e6f73756368 0570726f6c6f 00 0001 0001
         c013 0006 0001 0000000a 0026
         026e73 c013
         0a686f73746d6173746572 c02a
         00000001 000004b0 0000003c 00057e40 0000000a`).toString('hex'),
  );
});

t.test('names: escapes round-trip, canonical forms, relative names, wire keys', async (t) => {
  t.same(
    nameLabels('a\\.b.c').map((l) => l.toString('latin1')),
    ['a.b', 'c'],
  );
  t.equal(formatLabel(Buffer.from('a.b\\ \x00')), 'a\\.b\\\\\\032\\000');
  t.equal(canonicalName('MDB.Prolo.'), 'mdb.prolo');
  t.equal(canonicalName('a\\046b.x'), 'a\\.b.x', 'decimal escape normalised');
  t.equal(relativeName('foo.cl.prolo', 'prolo'), 'foo.cl');
  t.equal(relativeName('prolo', 'prolo'), '@');
  t.equal(relativeName('other.example', 'prolo'), 'other.example.');
  t.equal(qualify('foo.cl', 'prolo'), 'foo.cl.prolo');
  t.equal(qualify('host.example.', 'prolo'), 'host.example');
  t.equal(wireKey('mdb.prolo'), '\x03mdb\x05prolo\x00');
  t.equal(wireKey(''), '\x00');
  t.same(nameToWire('Mdb.prolo'), Buffer.from('\x03Mdb\x05prolo\x00', 'latin1'));
  t.throws(() => nameLabels('a..b'), RangeError);
  t.throws(() => nameLabels('x'.repeat(64)), RangeError);
  t.throws(() => nameLabels(Array(130).fill('ab').join('.')), RangeError, 'over 255 bytes');
});

/** Hostile name encodings: each must be refused, never followed into a loop or past the end. */
t.test(
  'decoder refuses pointer loops, forward pointers, reserved label types and overlong names',
  async (t) => {
    const header = hex('abcd 0100 0001 0000 0000 0000');
    const cases: Record<string, Buffer> = {
      'self pointer': Buffer.concat([header, hex('c00c 0001 0001')]),
      'forward pointer': Buffer.concat([header, hex('c00e 00 0001 0001')]),
      'two-step loop': Buffer.concat([header, hex('0161 c00c 0001 0001')]),
      'label type 01': Buffer.concat([header, hex('4161 00 0001 0001')]),
      'label type 10': Buffer.concat([header, hex('8161 00 0001 0001')]),
      'overlong name': Buffer.concat([
        header,
        Buffer.from(
          Array(5)
            .fill('\x3f' + 'a'.repeat(63))
            .join(''),
          'latin1',
        ),
        hex('00 0001 0001'),
      ]),
      'label past end': Buffer.concat([header, hex('0a6162')]),
      'question count lies': Buffer.concat([hex('abcd 0100 0005 0000 0000 0000'), hex('00 0001 0001')]),
      'trailing bytes': Buffer.concat([header, hex('00 0001 0001 ff')]),
      'truncated pointer': Buffer.concat([header, hex('c0')]),
    };
    for (const [what, msg] of Object.entries(cases)) {
      const r = decodeMessage(msg);
      t.equal(r.ok, false, what);
      if (!r.ok)
        t.same(r.header, { id: 0xabcd, flags: 0x0100 }, `${what}: header still available for FORMERR`);
    }
    t.equal(decodeMessage(hex('abcd01')).ok, false, 'shorter than a header');
  },
);

t.test('decoder enforces OPT and TSIG placement (RFC 6891 §6.1.1, RFC 8945 §5.1)', async (t) => {
  const q = { type: 'query' as const, id: 1, questions: [{ type: 'A' as const, name: 'a.prolo' }] };
  const opt = { type: 'OPT' as const, name: '.', udpPayloadSize: 1232 } as dnsPacket.Answer;
  const ok = decodeMessage(dnsPacket.encode({ ...q, additionals: [opt] }));
  t.ok(ok.ok && ok.message.edns?.udpSize === 1232, 'one OPT in additional');
  t.notOk(decodeMessage(dnsPacket.encode({ ...q, additionals: [opt, opt] })).ok, 'two OPT');
  t.notOk(decodeMessage(dnsPacket.encode({ ...q, answers: [opt] })).ok, 'OPT in answer');
  const notRoot = Buffer.concat([
    hex('0001 0000 0001 0000 0000 0001'),
    nameToWire('a.prolo'),
    hex('0001 0001'),
    hex('0178 00 0029 04d0 00000000 0000'),
  ]);
  t.notOk(decodeMessage(notRoot).ok, 'OPT not at root');
  t.ok(
    decodeMessage(Buffer.concat([notRoot.subarray(0, 12 + 9 + 4), hex('00 0029 04d0 00000000 0000')])).ok,
    'same message with a root OPT decodes',
  );
});

const label = fc.stringMatching(/^[a-z0-9-]{1,12}$/);
const name = fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => ls.join('.'));
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
const record: fc.Arbitrary<ResourceRecord> = fc.oneof(
  fc.record({ name, ttl: fc.nat(100000), a: ipv4 }).map(({ name, ttl, a }) => ({
    name,
    type: RRType.A,
    class: 1,
    ttl,
    data: { kind: 'a' as const, address: a },
  })),
  fc.record({ name, ttl: fc.nat(100000), target: name }).map(({ name, ttl, target }) => ({
    name,
    type: RRType.PTR,
    class: 1,
    ttl,
    data: { kind: 'name' as const, target },
  })),
  fc.record({ name, ttl: fc.nat(100000), target: name }).map(({ name, ttl, target }) => ({
    name,
    type: RRType.NS,
    class: 1,
    ttl,
    data: { kind: 'name' as const, target },
  })),
  fc.record({ name, ttl: fc.nat(100000), pref: fc.nat(65535), ex: name }).map(({ name, ttl, pref, ex }) => ({
    name,
    type: RRType.MX,
    class: 1,
    ttl,
    data: { kind: 'mx' as const, preference: pref, exchange: ex },
  })),
  fc
    .record({
      name,
      ttl: fc.nat(100000),
      s: fc.array(fc.string({ maxLength: 40 }), { minLength: 1, maxLength: 3 }),
    })
    .map(({ name, ttl, s }) => ({
      name,
      type: RRType.TXT,
      class: 1,
      ttl,
      data: { kind: 'txt' as const, strings: s.map((x) => Buffer.from(x, 'latin1')) },
    })),
);

t.test(
  'property: what we encode, dns-packet decodes to the same records (compression is valid)',
  async (t) => {
    fc.assert(
      fc.property(name, fc.array(record, { maxLength: 12 }), (qname, rrs) => {
        const w = new MessageWriter();
        w.header(99, Flag.QR | Flag.AA);
        w.question(qname, RRType.A, 1);
        for (const rr of rrs) w.record(1, rr);
        const bytes = w.finish();
        const p = dnsPacket.decode(bytes);
        if (p.answers!.length !== rrs.length) return false;
        return rrs.every((rr, i) => {
          const a = p.answers![i] as { name: string; ttl: number; data: unknown };
          if (a.name !== rr.name || a.ttl !== rr.ttl) return false;
          const d = rr.data;
          if (d.kind === 'a') return a.data === d.address;
          if (d.kind === 'name') return a.data === d.target;
          if (d.kind === 'mx') return (a.data as { exchange: string }).exchange === d.exchange;
          if (d.kind === 'txt') return (a.data as Buffer[]).every((b, j) => b.equals(d.strings[j]!));
          return true;
        });
      }),
      { numRuns: 300 },
    );
    t.pass();
  },
);

t.test('property: our decoder reads dns-packet messages back exactly (and our own output)', async (t) => {
  fc.assert(
    fc.property(fc.nat(65535), name, fc.array(record, { maxLength: 8 }), (id, qname, rrs) => {
      const w = new MessageWriter();
      w.header(id, Flag.QR);
      w.question(qname, RRType.AAAA, 1);
      for (const rr of rrs) w.record(1, rr);
      const r = decodeMessage(w.finish());
      if (!r.ok) return false;
      const ok1 =
        r.message.answers.length === rrs.length &&
        r.message.answers.every(
          (a, i) => a.name === rrs[i]!.name && JSON.stringify(a.data) === JSON.stringify(rrs[i]!.data),
        );
      const packet = dnsPacket.encode({ type: 'query', id, questions: [{ type: 'MX', name: qname }] });
      const r2 = decodeMessage(packet);
      return (
        ok1 &&
        r2.ok &&
        r2.message.id === id &&
        r2.message.questions[0]!.name === qname &&
        r2.message.questions[0]!.type === RRType.MX
      );
    }),
    { numRuns: 300 },
  );
  t.pass();
});

t.test('property: the decoder never throws on random bytes', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      const r = decodeMessage(bytes);
      return typeof r.ok === 'boolean';
    }),
    { numRuns: 5000 },
  );
  t.pass();
});

t.test('property: the decoder never throws on mutated valid messages (flips, cuts, splices)', async (t) => {
  const base = (() => {
    const w = new MessageWriter();
    w.header(1, Flag.QR | Flag.AA);
    w.question('a.b.prolo', RRType.A, 1);
    w.record(1, {
      name: 'a.b.prolo',
      type: RRType.SOA,
      class: 1,
      ttl: 1,
      data: {
        kind: 'soa',
        mname: 'ns.prolo',
        rname: 'h.ns.prolo',
        serial: 1,
        refresh: 2,
        retry: 3,
        expire: 4,
        minimum: 5,
      },
    });
    w.record(1, {
      name: 'c.b.prolo',
      type: RRType.MX,
      class: 1,
      ttl: 1,
      data: { kind: 'mx', preference: 1, exchange: 'a.b.prolo' },
    });
    w.opt(1232);
    return w.finish();
  })();
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(base.length - 1), fc.nat(255)), { maxLength: 6 }),
      fc.nat(base.length),
      (flips, cut) => {
        const m = Buffer.from(base);
        for (const [i, v] of flips) m[i] = v;
        const r1 = decodeMessage(m);
        const r2 = decodeMessage(m.subarray(0, cut));
        return typeof r1.ok === 'boolean' && typeof r2.ok === 'boolean';
      },
    ),
    { numRuns: 5000 },
  );
  t.pass();
});

t.test('readName reports the end after the first pointer', async (t) => {
  const msg = Buffer.concat([hex('0000 0000 0000 0000 0000 0000'), nameToWire('a.prolo'), hex('0162 c00c')]);
  const n = readName(msg, 21);
  t.equal(n.name, 'b.a.prolo');
  t.equal(n.end, 25);
});
