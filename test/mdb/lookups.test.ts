import t from 'tap';
import fc from 'fast-check';
import { fullClean } from '../../src/mdb/django-fields.js';
import { MdbError } from '../../src/mdb/errors.js';
import { addressInPool, parseIpv4Network } from '../../src/mdb/ip.js';
import { MACHINE_LOOKUPS, checkRegexSafety, compileFilters } from '../../src/mdb/lookups.js';
import { ALIASES_RE, HOSTNAME_RE, MACHINE_FIELD_SPECS, MAC_RE } from '../../src/mdb/machines.js';
import type { Machine } from '../../src/mdb/model.js';
import { pyRepr } from '../../src/rpc/pyrepr.js';

type Rec = Machine & Record<string, unknown>;
const machine = fc.record({
  hostname: fc.stringMatching(/^[a-z0-9-]{1,12}$/),
  aliases: fc.array(fc.stringMatching(/^[a-z0-9]{1,6}$/), { maxLength: 3 }).map((a) => a.join(',')),
  ip: fc.tuple(fc.nat(255), fc.nat(255)).map(([a, b]) => `192.168.${a}.${b}`),
  mac: fc.stringMatching(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/),
  rfs: fc.nat(20),
  hfs: fc.nat(20),
  mtype: fc.constantFrom('user', 'orga', 'cluster', 'service'),
  room: fc.constantFrom('pasteur', 'alt', 'cluster', 'other'),
  is_faulty: fc.boolean(),
  is_faulty_details: fc.string({ maxLength: 10 }),
}) as fc.Arbitrary<Rec>;

t.test('lookup parser never throws anything but MdbError, whatever the key and value', async () => {
  fc.assert(
    fc.property(
      fc.dictionary(fc.string({ maxLength: 20 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
      machine,
      (filters, m) => {
        try {
          compileFilters<Rec>(MACHINE_LOOKUPS, filters)(m);
        } catch (e) {
          if (!(e instanceof MdbError)) throw e;
        }
      },
    ),
  );
});

t.test('lookups agree with their definitions', async () => {
  fc.assert(
    fc.property(machine, fc.string({ maxLength: 4 }), (m, s) => {
      const run = (f: Record<string, unknown>) => compileFilters<Rec>(MACHINE_LOOKUPS, f)(m);
      return (
        run({ hostname: m.hostname }) &&
        run({ hostname__exact: m.hostname }) &&
        run({ hostname__iexact: m.hostname.toUpperCase() }) &&
        run({ hostname__contains: s }) === m.hostname.includes(s) &&
        run({ hostname__icontains: s }) === m.hostname.includes(s.toLowerCase()) &&
        run({ hostname__startswith: s }) === m.hostname.startsWith(s) &&
        run({ aliases__endswith: s }) === m.aliases.endsWith(s) &&
        run({ rfs: String(m.rfs) }) &&
        run({ rfs__gt: m.rfs }) === false &&
        run({ rfs__gte: m.rfs }) &&
        run({ rfs__lt: m.rfs + 1 }) &&
        run({ hfs__lte: m.hfs - 1 }) === false &&
        run({ mtype__in: [m.mtype] }) &&
        run({ room__in: [] }) === false &&
        run({ mac__regex: '^[0-9a-f:]+$' }) &&
        run({ hostname: m.hostname, rfs: m.rfs + 1 }) === false
      );
    }),
  );
});

t.test(
  'prefix check: keys whose part before the first "_" is not allowed give the original ValueError',
  async () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), (key) => {
        const allowed = MACHINE_LOOKUPS.allowed.includes(key.split('_')[0]!);
        try {
          compileFilters(MACHINE_LOOKUPS, { [key]: 'x' });
          return allowed;
        } catch (e) {
          const m = e as MdbError;
          if (!allowed)
            return m.exnType === 'ValueError' && m.message === `'${key}' is not a valid query argument`;
          return m.exnType !== 'ValueError' || /expected a number/.test(m.message);
        }
      }),
    );
  },
);

t.test('regex safety: nested quantifiers refused, ordinary patterns allowed', async (t) => {
  for (const bad of ['(a+)+$', '(a*)*', '(x+x+)+y', '((ab)+)+', '(a|aa)+\\1', 'x'.repeat(300)])
    t.ok(checkRegexSafety(bad), bad);
  for (const ok of ['^pas-r\\d+p\\d+$', '(rfs|hfs)1', '^[a-z]+(\\.cl)?$', '(ab)+', '[(]+'])
    t.notOk(checkRegexSafety(ok), ok);
});

t.test('validators: hostname, aliases and MAC patterns of spec §2.1', async (t) => {
  for (const ok of ['gw', 'pas-r01p01', 'alt-r01p02.cl', 'a-', '-']) t.ok(HOSTNAME_RE.test(ok), ok);
  for (const bad of ['Pas_R01', 'a.b.c', 'a.b-c', '', 'a b', 'gw\n', 'a.'])
    t.notOk(HOSTNAME_RE.test(bad), JSON.stringify(bad));
  t.ok(ALIASES_RE.test('mdb,mdbsync,ns'));
  t.notOk(ALIASES_RE.test('mdb, ns'));
  t.notOk(ALIASES_RE.test('mdb,'));
  t.ok(MAC_RE.test('zz:11:22:33:44:55'), 'letters beyond f pass the original validator');
  fc.assert(
    fc.property(fc.string({ maxLength: 70 }), (h) => {
      try {
        fullClean('Machine', MACHINE_FIELD_SPECS.slice(0, 1), { hostname: h }, () => false);
        return HOSTNAME_RE.test(h) && h.length <= 64;
      } catch (e) {
        const msg = pyRepr((e as { fields: unknown }).fields);
        return msg.startsWith("{'hostname': [") && !(HOSTNAME_RE.test(h) && h.length <= 64);
      }
    }),
  );
});

t.test('full_clean conversions and messages', async (t) => {
  const clean = (raw: Record<string, unknown>) => {
    try {
      return fullClean('Machine', MACHINE_FIELD_SPECS, raw, () => false);
    } catch (e) {
      return (e as { fields: Record<string, string[]> }).fields;
    }
  };
  const base = {
    hostname: 'a',
    aliases: '',
    ip: '192.168.0.1',
    mac: 'aa:bb:cc:dd:ee:ff',
    rfs: 0,
    hfs: 0,
    mtype: 'user',
    room: 'other',
    is_faulty: false,
    is_faulty_details: '',
  };
  t.match(clean({ ...base, rfs: ' 7 ', hfs: true }), { rfs: 7, hfs: 1 });
  t.same(clean({ ...base, rfs: 1.5 }), { ...base, rfs: 1 }, 'int(1.5) == 1 like Python');
  t.same(clean({ ...base, ip: '192.168.0.01' }), { ip: ['Enter a valid IPv4 or IPv6 address.'] });
  t.same(clean({ ...base, hostname: 'x'.repeat(65) }), {
    hostname: ['Ensure this value has at most 64 characters (it has 65).'],
  });
  t.same(clean({ ...base, hostname: 'X'.repeat(65) }), {
    hostname: ['Enter a valid value.', 'Ensure this value has at most 64 characters (it has 65).'],
  });
  t.same(clean({ ...base, rfs: 2 ** 31 }), {
    rfs: ['Ensure this value is less than or equal to 2147483647.'],
  });
  t.same(clean({ ...base, mtype: "o'brien" }), { mtype: [`Value "o'brien" is not a valid choice.`] });
  t.same(clean({ ...base, is_faulty: 'maybe' }), {
    is_faulty: ['“maybe” value must be either True or False.'],
  });
  t.same(clean({ ...base, hostname: '' }), { hostname: ['This field cannot be blank.'] });
  t.same(clean({ ...base, hostname: 12 }), { ...base, hostname: '12' }, 'CharField.to_python stringifies');
});

t.test('pool arithmetic: first address .1, refuses the broadcast address', async (t) => {
  const net = parseIpv4Network('192.168.0.0/24')!;
  t.equal(addressInPool(net, 1), '192.168.0.1');
  t.equal(addressInPool(net, 254), '192.168.0.254');
  t.equal(addressInPool(net, 255), undefined);
  t.equal(parseIpv4Network('192.168.0.5/24'), undefined, 'host bits set (Python strict ip_network)');
  t.equal(parseIpv4Network('300.0.0.0/8'), undefined);
  fc.assert(
    fc.property(fc.integer({ min: 8, max: 30 }), fc.nat(), (prefix, n) => {
      const size = 2 ** (32 - prefix);
      const net2 = parseIpv4Network(`10.0.0.0/${prefix}`)!;
      const last = (n % (size + 2)) + 1;
      const ip = addressInPool(net2, last);
      return last <= size - 2 ? ip !== undefined : ip === undefined;
    }),
  );
});
