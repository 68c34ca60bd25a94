import * as dnsPacket from 'dns-packet';
import fc from 'fast-check';
import t from 'tap';
import { defaultConfig } from '../../src/config/index.js';
import { type AnswerPolicy, type Outcome, answerFast, answerSlow } from '../../src/dns/answer.js';
import { clientIpv4 } from '../../src/dns/cidr.js';
import { Rcode } from '../../src/dns/constants.js';
import { makePolicy } from '../../src/dns/policy-config.js';
import { type Snapshot, compileSnapshot } from '../../src/dns/snapshot.js';
import { buildZones } from '../../src/dns/zone-builder.js';
import type { Machine } from '../../src/mdb/model.js';
import { GW, decodePacket, machine, query } from './helpers.js';

const base = defaultConfig({});

function snapshotOf(machines: Machine[], dns = base.dns): Snapshot {
  const { zones } = buildZones({ machines, network: base.network, dns });
  return compileSnapshot(
    zones.map((z) => ({ ...z, serial: 7 })),
    1,
  );
}

const machines = [
  GW,
  machine('pas-r01p01', '192.168.0.1', { aliases: 'a,b' }),
  machine('alt-r01p02.cl', '192.168.2.1', { mtype: 'cluster' }),
];
const snap = snapshotOf(machines);

function policy(
  over: Partial<Parameters<typeof makePolicy>[0]['dns']> = {},
  network = base.network,
): AnswerPolicy {
  return makePolicy({ dns: { ...base.dns, ...over }, network }, () => 1_700_000_000);
}

/** Runs the policy as the engine does: fast path, else slow path. */
function ask(
  q: Buffer,
  opts: { from?: string; tcp?: boolean; pol?: AnswerPolicy; snap?: Snapshot } = {},
): Outcome {
  const from = opts.from ?? '192.168.0.50';
  const pol = opts.pol ?? policy();
  const s = opts.snap ?? snap;
  const fast = answerFast(q, clientIpv4(from), s, pol, opts.tcp ?? false);
  if (fast) return { kind: 'reply', bytes: fast, label: 'fast' };
  return answerSlow(q, clientIpv4(from), from, s, pol, opts.tcp ?? false);
}

function replyOf(o: Outcome): Buffer {
  if (o.kind !== 'reply') throw new Error(`expected a reply, got ${o.kind}`);
  return o.bytes;
}

const rcode = (b: Buffer) => b[3]! & 0x0f;

t.test('positive answer: AA, TTL 10, ID and RD echoed, question case preserved (0x20)', async (t) => {
  const b = replyOf(ask(query('MdB.PrOlO', 'A', { id: 0xbeef })));
  const p = decodePacket(b);
  t.equal(p.id, 0xbeef);
  t.equal(p.flag_aa, true);
  t.equal(p.flag_rd, true);
  t.equal(p.flag_qr, true);
  t.equal(p.questions![0]!.name, 'MdB.PrOlO', 'question echoes the client case');
  t.same(
    p.answers!.map((a) => [a.type, a.data, a.ttl]),
    [['A', '192.168.1.254', 10]],
  );
  t.equal(b.length, 12 + 11 + 4 + 16, 'answer owner is a 2-byte pointer');
});

t.test('NODATA, empty non-terminal, NXDOMAIN, ANY (scenario 30)', async (t) => {
  const nodata = decodePacket(replyOf(ask(query('mdb.prolo', 'AAAA'))));
  t.equal(nodata.rcode, 'NOERROR');
  t.equal(nodata.answers!.length, 0);
  t.equal(nodata.authorities![0]!.type, 'SOA');
  t.equal(nodata.questions![0]!.type, 'AAAA', 'QTYPE patched into the NODATA template');
  const ent = decodePacket(replyOf(ask(query('cl.prolo', 'A'))));
  t.equal(ent.rcode, 'NOERROR', 'cl.prolo exists as an empty non-terminal (RFC 8020)');
  const nx = decodePacket(replyOf(ask(query('nosuch.prolo', 'A'))));
  t.equal(nx.rcode, 'NXDOMAIN');
  t.equal(nx.flag_aa, true);
  const soa = nx.authorities[0]!;
  t.equal(soa.ttl, 10);
  t.match(soa.data, {
    mname: 'ns.prolo',
    rname: 'hostmaster.ns.prolo',
    serial: 7,
    refresh: 1200,
    retry: 60,
    expire: 360000,
    minimum: 10,
  });
  const nxdeep = decodePacket(replyOf(ask(query('x.nosuch.pas-r01p01.prolo', 'A'))));
  t.equal(nxdeep.rcode, 'NXDOMAIN', 'below an existing name without records: NXDOMAIN');
  const any = decodePacket(replyOf(ask(query('prolo', 'ANY'))));
  t.same(any.answers!.map((a) => a.type).sort(), ['NS', 'SOA'], 'ANY at the apex: its SOA and NS');
});

t.test('reverse lookups (scenarios 27, 28)', async (t) => {
  const ptr = (name: string) => decodePacket(replyOf(ask(query(name, 'PTR'))));
  t.equal(ptr('254.1.168.192.in-addr.arpa').answers[0]!.data, 'gw.prolo');
  t.equal(ptr('1.0.168.192.in-addr.arpa').answers[0]!.data, 'pas-r01p01.prolo');
  t.equal(ptr('1.2.168.192.in-addr.arpa').answers[0]!.data, 'alt-r01p02.cl.prolo');
  t.equal(ptr('17.250.168.192.in-addr.arpa').answers[0]!.data, 'unknown-17.alien.prolo');
  t.equal(ptr('254.250.168.192.in-addr.arpa').answers[0]!.data, 'gw.alien.prolo');
  t.equal(ptr('255.250.168.192.in-addr.arpa').rcode, 'NXDOMAIN');
  t.equal(ptr('1.0.0.127.in-addr.arpa').rcode, 'NOERROR');
});

t.test('views by client address (scenario 29)', async (t) => {
  const alien = { from: '192.168.250.17' };
  const a = (name: string, o: { from: string; pol?: AnswerPolicy } = alien) =>
    decodePacket(replyOf(ask(query(name, 'A'), o)));
  t.equal(a('netboot.prolo').answers[0]!.data, '192.168.250.254');
  t.equal(a('ns.prolo').answers[0]!.data, '192.168.250.254');
  t.equal(a('mdb.prolo').rcode, 'NXDOMAIN');
  t.equal(a('netboot.prolo', { from: '192.168.0.9' }).answers[0]!.data, '192.168.1.254', 'normal view');
  const rev = decodePacket(replyOf(ask(query('254.1.168.192.in-addr.arpa', 'PTR'), alien)));
  t.equal(rev.rcode, 'REFUSED', 'the alien view serves only its prolo (no upstreams to forward to)');
  const custom = policy({ alienClients: ['127.250.0.0/24'] });
  t.equal(
    a('netboot.prolo', { from: '127.250.0.17', pol: custom }).answers[0]!.data,
    '192.168.250.254',
    'dns.alienClients overrides network.alien',
  );
});

t.test('recursion: refused for untrusted and without upstreams; forwarded for trusted with RD', async (t) => {
  t.equal(rcode(replyOf(ask(query('example.com', 'A')))), Rcode.REFUSED, 'trusted but no upstreams');
  const withUp = policy({ upstreams: ['127.0.0.1:5399'] });
  t.equal(
    rcode(replyOf(ask(query('example.com', 'A'), { from: '10.9.9.9', pol: withUp }))),
    Rcode.REFUSED,
    'untrusted',
  );
  const fwd = ask(query('Example.COM', 'MX', { id: 77 }), { pol: withUp });
  t.equal(fwd.kind, 'forward');
  if (fwd.kind === 'forward')
    t.match(fwd.request, { id: 77, name: 'Example.COM', type: 15, key: '\x07example\x03com\x00|15|1' });
  t.equal(
    rcode(replyOf(ask(query('example.com', 'A', { rd: false }), { pol: withUp }))),
    Rcode.REFUSED,
    'RD=0: not forwarded',
  );
  const auth = decodePacket(replyOf(ask(query('mdb.prolo', 'A'), { pol: withUp })));
  t.equal(auth.flag_ra, true, 'RA set for clients that may recurse');
  t.equal(
    decodePacket(replyOf(ask(query('mdb.prolo', 'A'), { pol: withUp, from: '10.9.9.9' }))).flag_ra,
    false,
  );
});

t.test('error rcodes per RFC 1035 / 6891', async (t) => {
  const q = query('mdb.prolo', 'A');
  const withOpcode = (op: number) => {
    const b = Buffer.from(q);
    b[2] = (b[2]! & 0x87) | (op << 3);
    return b;
  };
  t.equal(rcode(replyOf(ask(withOpcode(2)))), Rcode.NOTIMP, 'STATUS');
  t.equal(rcode(replyOf(ask(withOpcode(5)))), Rcode.NOTIMP, 'UPDATE');
  t.equal(rcode(replyOf(ask(withOpcode(1)))), Rcode.NOTIMP, 'IQUERY');
  t.equal(rcode(replyOf(ask(withOpcode(4)))), Rcode.REFUSED, 'NOTIFY to the primary');
  const noQ = Buffer.from(q.subarray(0, 12));
  noQ[5] = 0;
  t.equal(rcode(replyOf(ask(noQ))), Rcode.FORMERR, 'QDCOUNT 0');
  const twoQ = dnsPacket.encode({
    type: 'query',
    id: 1,
    questions: [
      { type: 'A', name: 'a.prolo' },
      { type: 'A', name: 'b.prolo' },
    ],
  });
  t.equal(rcode(replyOf(ask(twoQ))), Rcode.FORMERR, 'QDCOUNT 2');
  const bad = Buffer.concat([q.subarray(0, 12), Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])]);
  t.equal(rcode(replyOf(ask(bad))), Rcode.FORMERR, 'pointer loop in the question');
  const resp = Buffer.from(q);
  resp[2] = resp[2]! | 0x80;
  t.equal(ask(resp).kind, 'drop', 'a response (QR=1) is never answered');
  t.equal(ask(q.subarray(0, 11)).kind, 'drop', 'shorter than a header');
  const v1 = dnsPacket.encode({
    type: 'query',
    id: 1,
    questions: [{ type: 'A', name: 'mdb.prolo' }],
    additionals: [
      { type: 'OPT', name: '.', udpPayloadSize: 1232, ednsVersion: 1 } as unknown as dnsPacket.Answer,
    ],
  });
  const badvers = decodePacket(replyOf(ask(v1)));
  const opt = badvers.additionals!.find((a) => a.type === 'OPT')!;
  t.equal(opt.extendedRcode, 1, 'BADVERS = extended rcode 1 in the OPT (RFC 6891 §6.1.3)');
  const chaos = dnsPacket.encode({
    type: 'query',
    id: 1,
    questions: [{ type: 'TXT', name: 'version.bind', class: 'CH' }],
  });
  t.equal(rcode(replyOf(ask(chaos))), Rcode.REFUSED, 'version.bind hidden (§4.4)');
  t.equal(rcode(replyOf(ask(query('prolo', 'AXFR')))), Rcode.FORMERR, 'AXFR over UDP');
  t.equal(
    rcode(replyOf(ask(query('prolo', 'AXFR'), { tcp: true }))),
    Rcode.REFUSED,
    'AXFR from a non-secondary',
  );
  const mailb = Buffer.from(query('mdb.prolo', 'A'));
  mailb.writeUInt16BE(253, mailb.length - 4);
  t.equal(rcode(replyOf(ask(mailb))), Rcode.NOTIMP, 'MAILB');
});

t.test('transfers: allowed only to configured secondaries, by IP and key', async (t) => {
  const pol = policy({ secondaries: [{ address: '192.168.1.20', view: 'normal', zones: [] }] });
  const axfr = ask(query('prolo', 'AXFR'), { from: '192.168.1.20', tcp: true, pol });
  t.equal(axfr.kind, 'transfer');
  t.equal(
    rcode(replyOf(ask(query('prolo', 'AXFR'), { from: '192.168.1.21', tcp: true, pol }))),
    Rcode.REFUSED,
  );
  t.equal(
    rcode(replyOf(ask(query('localhost', 'AXFR'), { from: '192.168.1.20', tcp: true, pol }))),
    Rcode.REFUSED,
    'local zones are not transferred by default',
  );
  t.equal(
    rcode(replyOf(ask(query('mdb.prolo', 'AXFR'), { from: '192.168.1.20', tcp: true, pol }))),
    Rcode.REFUSED,
    'not a zone apex',
  );
  const keyed = policy({
    tsigKeys: [{ name: 'xfr', algorithm: 'hmac-sha256', secret: Buffer.alloc(32, 1).toString('base64') }],
    secondaries: [{ address: '192.168.1.20', key: 'xfr', view: 'normal', zones: [] }],
  });
  t.equal(
    rcode(replyOf(ask(query('prolo', 'AXFR'), { from: '192.168.1.20', tcp: true, pol: keyed }))),
    Rcode.REFUSED,
    'unsigned request when a key is configured',
  );
});

t.test(
  'property: any bytes get a reply or are dropped, never an exception; undecodable → FORMERR',
  async (t) => {
    const pol = policy({ upstreams: ['127.0.0.1:1'] });
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), fc.boolean(), (bytes, tcp) => {
        const b = Buffer.from(bytes);
        const o = ask(b, { tcp, pol });
        if (o.kind !== 'reply') return true;
        const r = o.bytes;
        // Every reply is a well-formed response to this ID.
        return r.length >= 12 && r.readUInt16BE(0) === b.readUInt16BE(0) && (r[2]! & 0x80) !== 0;
      }),
      { numRuns: 20_000 },
    );
    t.pass();
  },
);

t.test('property: mutated valid queries never crash and replies always decode', async (t) => {
  const seeds = [
    query('mdb.prolo', 'A', { edns: 1232 }),
    query('1.0.168.192.in-addr.arpa', 'PTR'),
    query('nosuch.prolo', 'AAAA', { edns: 4096 }),
  ];
  fc.assert(
    fc.property(
      fc.nat(seeds.length - 1),
      fc.array(fc.tuple(fc.nat(200), fc.nat(255)), { minLength: 1, maxLength: 4 }),
      fc.nat(100),
      (i, flips, cut) => {
        const m = Buffer.from(seeds[i]!);
        for (const [pos, v] of flips) if (pos < m.length) m[pos] = v;
        for (const candidate of [m, m.subarray(0, Math.max(0, m.length - cut))]) {
          const o = ask(candidate);
          if (o.kind === 'reply') {
            const d = decodePacket(o.bytes);
            if (d.id !== candidate.readUInt16BE(0)) return false;
          }
        }
        return true;
      },
    ),
    { numRuns: 20_000 },
  );
  t.pass();
});

t.test('truncation is correct for every EDNS size 512..4096 (and without EDNS)', async (t) => {
  const many: Machine[] = [];
  for (let i = 1; i <= 300; i++)
    many.push(
      machine(`h${i}`, `192.168.${Math.floor(i / 250)}.${(i % 250) + 1}`, {
        aliases: i <= 20 ? 'small,medium,big' : i <= 100 ? 'medium,big' : 'big',
      }),
    );
  const s = snapshotOf(many);
  const pol = policy({ ednsUdpSize: 4096 });
  const full = (name: string) => replyOf(ask(query(name, 'A', { edns: 4096 }), { snap: s, pol, tcp: true }));
  const sizes = {
    small: full('small.prolo').length,
    medium: full('medium.prolo').length,
    big: full('big.prolo').length,
  };
  t.ok(
    sizes.small < 512 && sizes.medium > 512 && sizes.medium < 4096 && sizes.big > 4096,
    JSON.stringify(sizes),
  );
  let checked = 0;
  for (const name of ['small', 'medium', 'big'] as const) {
    const fullCount = decodePacket(full(`${name}.prolo`)).answers!.length;
    for (let size = 512; size <= 4096; size++) {
      const b = replyOf(ask(query(`${name}.prolo`, 'A', { edns: size }), { snap: s, pol }));
      const tc = (b[2]! & 0x02) !== 0;
      const fits = sizes[name] <= size;
      if (b.length > size || tc === fits) {
        t.fail(`${name} at ${size}: ${b.length} bytes, tc=${tc}, full=${sizes[name]}`);
        return;
      }
      const d = decodePacket(b);
      if (!tc && d.answers!.length !== fullCount) {
        t.fail(`${name} at ${size}: incomplete answer without TC`);
        return;
      }
      if (tc && (d.answers!.length !== 0 || !d.additionals!.some((a) => a.type === 'OPT'))) {
        t.fail(`${name} at ${size}: truncated reply must be header + question + OPT`);
        return;
      }
      checked++;
    }
  }
  t.equal(checked, 3 * 3585);
  const classic = replyOf(ask(query('medium.prolo', 'A'), { snap: s, pol }));
  t.ok(classic[2]! & 0x02 && classic.length <= 512, 'no OPT: 512-byte limit');
  const small = replyOf(ask(query('medium.prolo', 'A', { edns: 100 }), { snap: s, pol }));
  t.ok(small[2]! & 0x02, 'EDNS size below 512 is treated as 512 (RFC 6891 §6.2.5)');
  const capped = replyOf(ask(query('medium.prolo', 'A', { edns: 4096 }), { snap: s, pol: policy() }));
  t.ok(capped[2]! & 0x02 && sizes.medium > 1232, 'our advertised 1232 caps what we send');
});

t.test(
  'property: the cached fast path, the uncached fast path and the slow path give identical bytes',
  async (t) => {
    const s = snapshotOf(machines);
    const pol = policy();
    const names = [
      'mdb.prolo',
      'a.prolo',
      'pas-r01p01.prolo',
      'cl.prolo',
      'prolo',
      '1.0.168.192.in-addr.arpa',
      '17.250.168.192.in-addr.arpa',
    ];
    const types = ['A', 'AAAA', 'PTR', 'SOA', 'NS', 'MX', 'TXT', 'ANY'] as const;
    fc.assert(
      fc.property(
        fc.constantFrom(...names),
        fc.constantFrom(...types),
        fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
        fc.option(fc.integer({ min: 512, max: 4096 }), { nil: undefined }),
        fc.nat(65535),
        (name, type, caps, edns, id) => {
          const cased = [...name].map((c, i) => (caps[i % 40] ? c.toUpperCase() : c)).join('');
          const q = query(cased, type, { id, edns });
          const ip = clientIpv4('192.168.0.9');
          const first = answerFast(q, ip, s, pol, false);
          const second = answerFast(q, ip, s, pol, false);
          const slow = answerSlow(q, ip, '192.168.0.9', s, pol, false);
          return (
            first !== undefined &&
            second !== undefined &&
            first.equals(second) &&
            slow.kind === 'reply' &&
            slow.bytes.equals(first)
          );
        },
      ),
      { numRuns: 3000 },
    );
    t.ok(s.views.normal.fast.size > 0, 'the cache was used');
  },
);
