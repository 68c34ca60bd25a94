import t from 'tap';
import { defaultConfig } from '../../src/config/index.js';
import type { DnsConfig } from '../../src/dns/config.js';
import { RRType } from '../../src/dns/constants.js';
import { rdataText } from '../../src/dns/records.js';
import { buildZones } from '../../src/dns/zone-builder.js';
import type { ZoneContent } from '../../src/dns/zone.js';
import type { Machine } from '../../src/mdb/model.js';
import { GW, machine } from './helpers.js';

const cfg = defaultConfig({});
const noBootstrap: DnsConfig = { ...cfg.dns, bootstrapNames: [] };

function build(machines: Machine[], dns = noBootstrap, network = cfg.network) {
  return buildZones({ machines, network, dns });
}

function zone(zones: ZoneContent[], id: string): ZoneContent {
  const z = zones.find((x) => x.id === id);
  if (!z) throw new Error(`no zone ${id} in ${zones.map((x) => x.id).join(', ')}`);
  return z;
}

/** `owner TYPE data` lines of a zone, apex NS excluded. */
function rows(z: ZoneContent): string[] {
  return z.records
    .filter((r) => r.type !== RRType.NS)
    .map(
      (r) =>
        `${r.name} ${r.type === RRType.A ? 'A' : r.type === RRType.PTR ? 'PTR' : r.type} ${rdataText(r.data)}`,
    );
}

t.test('the six generated zones of §4.3 plus the §4.4 local zones', async (t) => {
  const { zones } = build([]);
  t.same(zones.map((z) => z.id).sort(), [
    'alien/prolo',
    'normal/0.168.192.in-addr.arpa',
    'normal/0.in-addr.arpa',
    'normal/1.168.192.in-addr.arpa',
    'normal/127.in-addr.arpa',
    'normal/2.168.192.in-addr.arpa',
    'normal/250.168.192.in-addr.arpa',
    'normal/255.in-addr.arpa',
    'normal/localhost',
    'normal/prolo',
  ]);
  const prolo = zone(zones, 'normal/prolo');
  t.same(
    prolo.soa,
    {
      mname: 'ns.prolo',
      rname: 'hostmaster.ns.prolo',
      refresh: 1200,
      retry: 60,
      expire: 360000,
      minimum: 10,
    },
    '§4.2 SOA',
  );
  t.equal(prolo.ttl, 10);
  t.same(rows(prolo), [], 'empty MDB, no bootstrap: nothing but SOA/NS');
  t.same(
    prolo.records.map((r) => `${r.name} ${r.type} ${rdataText(r.data)}`),
    ['prolo 2 ns.prolo.'],
  );
  t.notOk(zones.find((z) => z.id === 'normal/localhost')!.generated, 'local zones are not MDB-generated');
});

t.test(
  'scenario 26 / 32: hostname and every alias publish A records; shared aliases round-robin',
  async (t) => {
    const { zones } = build([
      GW,
      machine('pas-r01p01', '192.168.0.1', { aliases: 'a,b' }),
      machine('pas-r01p02', '192.168.0.2', { aliases: ' x ,,' }),
      machine('pas-r01p03', '192.168.0.3', { aliases: 'x' }),
      machine('alt-r01p02.cl', '192.168.2.1', { mtype: 'cluster' }),
    ]);
    const r = rows(zone(zones, 'normal/prolo'));
    for (const n of [
      'gw',
      'mdb',
      'mdbsync',
      'ns',
      'netboot',
      'udb',
      'udbsync',
      'presencesync',
      'ntp',
      'sso',
    ]) {
      t.ok(r.includes(`${n}.prolo A 192.168.1.254`), `${n}.prolo`);
    }
    t.ok(
      r.includes('a.prolo A 192.168.0.1') &&
        r.includes('b.prolo A 192.168.0.1') &&
        r.includes('pas-r01p01.prolo A 192.168.0.1'),
    );
    t.same(
      r.filter((l) => l.startsWith('x.prolo ')).sort(),
      ['x.prolo A 192.168.0.2', 'x.prolo A 192.168.0.3'],
      'alias x on two machines: two A records',
    );
    t.ok(r.includes('alt-r01p02.cl.prolo A 192.168.2.1'), 'a dotted hostname stays under prolo');
    t.notOk(
      r.some((l) => l.startsWith('.prolo') || l.startsWith(' ')),
      'empty aliases dropped',
    );
  },
);

t.test('scenario 27: PTR records by actual IP in the LAN halves and the cluster zone', async (t) => {
  const { zones } = build([
    GW,
    machine('pas-r01p01', '192.168.0.1'),
    machine('orga1', '192.168.0.3', { mtype: 'orga' }),
    machine('node1', '192.168.2.1', { mtype: 'cluster' }),
  ]);
  t.same(rows(zone(zones, 'normal/1.168.192.in-addr.arpa')), ['254.1.168.192.in-addr.arpa PTR gw.prolo.']);
  t.same(rows(zone(zones, 'normal/0.168.192.in-addr.arpa')).sort(), [
    '1.0.168.192.in-addr.arpa PTR pas-r01p01.prolo.',
    '3.0.168.192.in-addr.arpa PTR orga1.prolo.',
  ]);
  t.same(rows(zone(zones, 'normal/2.168.192.in-addr.arpa')), ['1.2.168.192.in-addr.arpa PTR node1.prolo.']);
});

t.test(
  '§4.3 note / §17: a service machine at 127.0.0.1 gets no PTR in 1.168.192 (placed by IP, not mtype)',
  async (t) => {
    const { zones } = build([
      machine('localhost1', '127.0.0.1', { mtype: 'service', aliases: 'localhost2' }),
    ]);
    t.same(rows(zone(zones, 'normal/1.168.192.in-addr.arpa')), []);
    t.ok(
      rows(zone(zones, 'normal/prolo')).includes('localhost1.prolo A 127.0.0.1'),
      'forward record still published',
    );
    t.same(
      rows(zone(zones, 'normal/127.in-addr.arpa')),
      ['1.0.0.127.in-addr.arpa PTR localhost.'],
      'the static localhost PTR only',
    );
  },
);

t.test('scenario 28: the alien reverse zone names .1-.253 unknown-N and .254 gw.alien', async (t) => {
  const { zones } = build([]);
  const r = rows(zone(zones, 'normal/250.168.192.in-addr.arpa'));
  t.equal(r.length, 254);
  t.ok(r.includes('17.250.168.192.in-addr.arpa PTR unknown-17.alien.prolo.'));
  t.ok(r.includes('1.250.168.192.in-addr.arpa PTR unknown-1.alien.prolo.'));
  t.ok(r.includes('253.250.168.192.in-addr.arpa PTR unknown-253.alien.prolo.'));
  t.ok(r.includes('254.250.168.192.in-addr.arpa PTR gw.alien.prolo.'));
  t.notOk(
    r.some((l) => l.startsWith('0.') || l.startsWith('255.')),
    'no entry for 0 and 255',
  );
});

t.test(
  'scenario 29 data: the alien prolo has netboot and ns at the alien gateway, nothing else',
  async (t) => {
    const { zones } = build([GW, machine('pas-r01p01', '192.168.0.1')]);
    t.same(rows(zone(zones, 'alien/prolo')).sort(), [
      'netboot.prolo A 192.168.250.254',
      'ns.prolo A 192.168.250.254',
    ]);
  },
);

t.test('bootstrap names resolve to the gateway until MDB carries them (gw:/etc/hosts)', async (t) => {
  const dns = { ...cfg.dns };
  const empty = rows(zone(build([], dns).zones, 'normal/prolo'));
  t.ok(
    empty.includes('mdb.prolo A 192.168.1.254') && empty.includes('ns.prolo A 192.168.1.254'),
    'empty MDB: bootstrap names answer',
  );
  const moved = machine('gw', '192.168.1.253', { aliases: 'mdb', mtype: 'service' });
  const r = rows(zone(build([moved], dns).zones, 'normal/prolo'));
  t.same(
    r.filter((l) => l.startsWith('mdb.prolo')),
    ['mdb.prolo A 192.168.1.253'],
    'MDB wins over the bootstrap for mdb',
  );
  t.same(
    r.filter((l) => l.startsWith('gw.prolo')),
    ['gw.prolo A 192.168.1.253'],
  );
  t.same(
    r.filter((l) => l.startsWith('sso.prolo')),
    ['sso.prolo A 192.168.1.254'],
    'names MDB lacks keep the bootstrap',
  );
});

t.test('static records: types, views, fallback vs always, out-of-zone names are warnings', async (t) => {
  const dns = {
    ...noBootstrap,
    static: [
      {
        name: 'www',
        type: 'A' as const,
        value: '192.168.1.10',
        view: 'both' as const,
        mode: 'always' as const,
      },
      {
        name: 'pas-r01p01',
        type: 'A' as const,
        value: '192.168.9.9',
        view: 'normal' as const,
        mode: 'fallback' as const,
      },
      {
        name: 'txt',
        type: 'TXT' as const,
        value: '"hello world" "x"',
        view: 'normal' as const,
        mode: 'always' as const,
      },
      { name: '@', type: 'MX' as const, value: '10 mail', view: 'normal' as const, mode: 'always' as const },
      {
        name: '_http._tcp',
        type: 'SRV' as const,
        value: '0 5 80 www',
        view: 'normal' as const,
        mode: 'always' as const,
      },
      {
        name: '9.1.168.192.in-addr.arpa.',
        type: 'PTR' as const,
        value: 'printer',
        view: 'normal' as const,
        mode: 'always' as const,
      },
      {
        name: 'elsewhere.example.',
        type: 'A' as const,
        value: '192.0.2.1',
        view: 'normal' as const,
        mode: 'always' as const,
      },
      {
        name: 'bad',
        type: 'A' as const,
        value: 'not-an-ip',
        view: 'normal' as const,
        mode: 'always' as const,
      },
    ],
  };
  const { zones, warnings } = build([machine('pas-r01p01', '192.168.0.1')], dns);
  const prolo = rows(zone(zones, 'normal/prolo'));
  t.ok(prolo.includes('www.prolo A 192.168.1.10'));
  t.ok(rows(zone(zones, 'alien/prolo')).includes('www.prolo A 192.168.1.10'), 'view both');
  t.same(
    prolo.filter((l) => l.startsWith('pas-r01p01')),
    ['pas-r01p01.prolo A 192.168.0.1'],
    'fallback loses to MDB',
  );
  t.ok(prolo.includes('txt.prolo 16 "hello world" "x"'));
  t.ok(prolo.includes('prolo 15 10 mail.prolo.'));
  t.ok(prolo.includes('_http._tcp.prolo 33 0 5 80 www.prolo.'));
  t.ok(
    rows(zone(zones, 'normal/1.168.192.in-addr.arpa')).includes(
      '9.1.168.192.in-addr.arpa PTR printer.prolo.',
    ),
  );
  t.equal(warnings.length, 2, warnings.join('\n'));
  t.match(warnings.join('\n'), /elsewhere\.example.*none of the served zones/);
  t.match(warnings.join('\n'), /not an IPv4 address/);
});

t.test('unpublishable machine data is skipped with a warning, never thrown', async (t) => {
  const { zones, warnings } = build([
    machine('ok', '192.168.0.9'),
    machine('noip', ''),
    machine('x'.repeat(70), '192.168.0.10'),
    machine('v6', '2001:db8::1'),
  ]);
  const r = rows(zone(zones, 'normal/prolo'));
  t.ok(r.includes('ok.prolo A 192.168.0.9'));
  t.ok(r.includes('v6.prolo 28 2001:db8::1'), 'IPv6 address → AAAA');
  t.equal(warnings.length, 2);
});

t.test('network plan drives the reverse zones (a /22 LAN gives four /24 zones)', async (t) => {
  const network = {
    ...cfg.network,
    lan: '10.0.0.0/22',
    cluster: '10.1.0.0/24',
    alien: '10.2.0.0/25',
    alienGateway: '10.2.0.126',
    domain: 'contest',
  };
  const { zones } = build([machine('h', '10.0.3.7')], noBootstrap, network);
  const ids = zones
    .filter((z) => z.id.endsWith('in-addr.arpa') && z.generated)
    .map((z) => z.id)
    .sort();
  t.same(ids, [
    'normal/0.0.10.in-addr.arpa',
    'normal/0.1.10.in-addr.arpa',
    'normal/0.2.10.in-addr.arpa',
    'normal/1.0.10.in-addr.arpa',
    'normal/2.0.10.in-addr.arpa',
    'normal/3.0.10.in-addr.arpa',
  ]);
  t.same(rows(zone(zones, 'normal/3.0.10.in-addr.arpa')), ['7.3.0.10.in-addr.arpa PTR h.contest.']);
  const alien = rows(zone(zones, 'normal/0.2.10.in-addr.arpa'));
  t.equal(alien.length, 126, '/25: .1-.126');
  t.ok(alien.includes('126.0.2.10.in-addr.arpa PTR gw.alien.contest.'));
});

t.test('content hash: order-independent, changes with content', async (t) => {
  const a = build([machine('a', '192.168.0.1'), machine('b', '192.168.0.2')]).zones;
  const b = build([machine('b', '192.168.0.2'), machine('a', '192.168.0.1')]).zones;
  const c = build([machine('a', '192.168.0.1'), machine('b', '192.168.0.3')]).zones;
  t.equal(zone(a, 'normal/prolo').hash, zone(b, 'normal/prolo').hash);
  t.not(zone(a, 'normal/prolo').hash, zone(c, 'normal/prolo').hash);
  t.equal(zone(a, 'alien/prolo').hash, zone(c, 'alien/prolo').hash, 'untouched zone keeps its hash');
});
