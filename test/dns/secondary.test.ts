/**
 * Scale-out with real secondaries: Knot and NSD started by the test transfer the zones from
 * Gatehouse (AXFR with TSIG, in several messages), are NOTIFYed on each change, take it by
 * IXFR, and then answer exactly like Gatehouse.
 */
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { tempDir } from '../helpers/tmp.js';
import { GW, type DnsFixture, kdig, machine, startDns, status } from './helpers.js';
import { freePort } from '../helpers/ports.js';
import { startDaemon } from './peers.js';

const has = (bin: string) =>
  ['/usr/sbin', '/usr/bin', '/sbin', '/bin'].some((d) => fs.existsSync(path.join(d, bin)));
const noKnot = has('knotd') ? false : 'knotd not installed (scripts/install-test-deps.sh installs knot)';
const noNsd = has('nsd') ? false : 'nsd not installed (scripts/install-test-deps.sh installs nsd)';

const KEY = 'ghdns-xfr';
const SECRET = Buffer.alloc(32, 0x5a).toString('base64');
const ZONES = [
  'prolo',
  '0.168.192.in-addr.arpa',
  '1.168.192.in-addr.arpa',
  '2.168.192.in-addr.arpa',
  '250.168.192.in-addr.arpa',
];

const machines = [
  GW,
  ...Array.from({ length: 40 }, (_, i) =>
    machine(`pas-r01p${String(i + 1).padStart(2, '0')}`, `192.168.0.${i + 1}`, {
      aliases: i === 0 ? 'a,b' : '',
    }),
  ),
  machine('node01', '192.168.2.1', { mtype: 'cluster' }),
];

/** Questions whose answers must be identical on Gatehouse and on the secondary. */
const QUESTIONS: Array<[string, string]> = [
  ['mdb.prolo', 'A'],
  ['gw.prolo', 'A'],
  ['a.prolo', 'A'],
  ['pas-r01p17.prolo', 'A'],
  ['prolo', 'SOA'],
  ['prolo', 'NS'],
  ['nosuch.prolo', 'A'],
  ['mdb.prolo', 'AAAA'],
  ['254.1.168.192.in-addr.arpa', 'PTR'],
  ['17.0.168.192.in-addr.arpa', 'PTR'],
  ['1.2.168.192.in-addr.arpa', 'PTR'],
  ['17.250.168.192.in-addr.arpa', 'PTR'],
  ['254.250.168.192.in-addr.arpa', 'PTR'],
  ['255.250.168.192.in-addr.arpa', 'PTR'],
];

/** Status plus answer and authority sections, normalised and sorted. */
async function view(port: number, name: string, type: string): Promise<string> {
  const out = await kdig(port, '+noall', '+answer', '+authority', '+header', '+norecurse', name, type);
  const st = /status: ([A-Z]+)/.exec(out)?.[1];
  const rrs = out
    .split('\n')
    .filter((l) => l && !l.startsWith(';;'))
    .map((l) => l.trim().replace(/\s+/g, ' '))
    .sort();
  return `${st}\n${rrs.join('\n')}`;
}

async function sameAnswers(
  t: Test,
  gh: DnsFixture,
  port: number,
  peer: string,
  zones = ZONES,
): Promise<void> {
  const served = (name: string) => zones.some((z) => name === z || name.endsWith(`.${z}`));
  for (const [name, type] of QUESTIONS.filter(([n]) => served(n))) {
    const [a, b] = [await view(gh.port, name, type), await view(port, name, type)];
    t.equal(b, a, `${peer} answers ${name} ${type} like Gatehouse`);
  }
}

const serialAt = async (port: number, zone: string) =>
  Number(/SOA\s+\S+\s+\S+\s+(\d+)/.exec(await kdig(port, '+noall', '+answer', zone, 'SOA'))?.[1]);

t.test('Knot secondary: AXFR, NOTIFY, IXFR with TSIG; same answers', { skip: noKnot }, async (t) => {
  const dir = tempDir(t, 'ghdns-knot-');
  const knotPort = await freePort();
  const gh = await startDns(t, {
    dns: {
      listen: ['127.0.0.1:0'],
      tsigKeys: [{ name: KEY, secret: SECRET }],
      secondaries: [{ address: `127.0.0.1:${knotPort}`, key: KEY }],
      // Small messages: the transfers of the 250 zone span several TSIG-chained messages.
      transferMessageBytes: 1024,
      notify: { retryMs: 200 },
    },
  });
  await gh.put(...machines);
  fs.writeFileSync(
    path.join(dir, 'knot.conf'),
    `server:
    rundir: "${dir}"
    listen: 127.0.0.1@${knotPort}
database:
    storage: "${dir}"
key:
  - id: ${KEY}
    algorithm: hmac-sha256
    secret: ${SECRET}
remote:
  - id: gatehouse
    address: 127.0.0.1@${gh.port}
    key: ${KEY}
acl:
  - id: notify_from_gatehouse
    address: 127.0.0.1
    key: ${KEY}
    action: notify
template:
  - id: default
    storage: "${dir}"
    master: gatehouse
    acl: notify_from_gatehouse
zone:
${ZONES.map((z) => `  - domain: ${z}`).join('\n')}
log:
  - target: stderr
    any: info
`,
  );
  const knot = startDaemon(t, 'knotd', ['-c', path.join(dir, 'knot.conf')]);
  for (const z of ZONES)
    await knot.waitFor(new RegExp(`\\[${z.replace(/\./g, '\\.')}\\.\\] refresh, .*zone updated`));
  t.match(
    await knot.waitFor(/\[250\.168\.192\.in-addr\.arpa\.\] AXFR, incoming, .* finished/),
    /[2-9]\d* messages/,
    'multi-message AXFR accepted (TSIG chain verified)',
  );
  await sameAnswers(t, gh, knotPort, 'Knot');

  const before = await serialAt(knotPort, 'prolo');
  await gh.put(machine('late', '192.168.0.200', { aliases: 'x' }));
  const after = gh.dns.snapshot.views.normal.byName.get('prolo')!.zone.serial;
  t.ok(after > before, 'serial moved on Gatehouse');
  await knot.waitFor(/\[prolo\.\] IXFR, incoming, .* finished/);
  await knot.waitFor(new RegExp(`\\[prolo\\.\\] refresh, .*serial ${before} -> ${after}`));
  t.ok(
    gh.logs.some(
      (l) =>
        l.event === 'dns.notify' && l.zone === 'normal/prolo' && l.serial === after && l.result === 'acked',
    ),
    'NOTIFY acknowledged',
  );
  t.ok(
    gh.logs.some(
      (l) =>
        l.event === 'dns.transfer' &&
        l.style === 'ixfr' &&
        l.zone === 'normal/prolo' &&
        l.fromSerial === before,
    ),
    'served as an incremental transfer',
  );
  t.equal(await serialAt(knotPort, 'prolo'), after);
  t.match(await kdig(knotPort, 'x.prolo'), /192\.168\.0\.200/);

  await gh.remove('pas-r01p17');
  const s3 = gh.dns.snapshot.views.normal.byName.get('prolo')!.zone.serial;
  await knot.waitFor(new RegExp(`\\[prolo\\.\\] refresh, .*serial ${after} -> ${s3}`));
  await knot.waitFor(
    new RegExp(
      `\\[0\\.168\\.192\\.in-addr\\.arpa\\.\\] refresh, .*-> ${gh.dns.snapshot.views.normal.byName.get('0.168.192.in-addr.arpa')!.zone.serial}`,
    ),
  );
  t.equal(status(await kdig(knotPort, 'pas-r01p17.prolo')), 'NXDOMAIN', 'a deletion travels by IXFR too');
  await sameAnswers(t, gh, knotPort, 'Knot after changes');
});

t.test('NSD secondary: AXFR, NOTIFY, IXFR with TSIG; same answers', { skip: noNsd }, async (t) => {
  const dir = tempDir(t, 'ghdns-nsd-');
  const nsdPort = await freePort();
  const nsdZones = ['prolo', '0.168.192.in-addr.arpa', '250.168.192.in-addr.arpa'];
  const gh = await startDns(t, {
    dns: {
      listen: ['127.0.0.1:0'],
      tsigKeys: [{ name: KEY, secret: SECRET }],
      secondaries: [{ address: `127.0.0.1:${nsdPort}`, key: KEY, zones: nsdZones }],
      notify: { retryMs: 200 },
    },
  });
  await gh.put(...machines);
  fs.writeFileSync(
    path.join(dir, 'nsd.conf'),
    `server:
    ip-address: 127.0.0.1@${nsdPort}
    zonesdir: "${dir}"
    database: ""
    pidfile: "${dir}/nsd.pid"
    xfrdfile: "${dir}/xfrd.state"
    zonelistfile: "${dir}/zone.list"
    xfrdir: "${dir}"
    username: ""
    chroot: ""
    verbosity: 2
    rrl-ratelimit: 0
    server-count: 1
    # Like Knot and Gatehouse: no NS in the authority section of positive answers.
    minimal-responses: yes
remote-control:
    control-enable: no
key:
    name: ${KEY}
    algorithm: hmac-sha256
    secret: "${SECRET}"
pattern:
    name: gatehouse
    request-xfr: 127.0.0.1@${gh.port} ${KEY}
    allow-notify: 127.0.0.1 ${KEY}
${nsdZones.map((z) => `zone:\n    name: ${z}\n    include-pattern: gatehouse`).join('\n')}
`,
  );
  const nsd = startDaemon(t, 'nsd', ['-d', '-c', path.join(dir, 'nsd.conf')]);
  for (const z of nsdZones)
    await nsd.waitFor(new RegExp(`zone ${z.replace(/\./g, '\\.')} serial 0 is updated to \\d+`));
  t.ok(
    nsd.output.some((l) => /TSIG verified with key ghdns-xfr/.test(l)),
    'NSD verified our TSIG',
  );
  await sameAnswers(t, gh, nsdPort, 'NSD', nsdZones);

  const before = await serialAt(nsdPort, 'prolo');
  await gh.put(machine('late', '192.168.0.200'));
  const after = gh.dns.snapshot.views.normal.byName.get('prolo')!.zone.serial;
  await nsd.waitFor(new RegExp(`zone prolo serial ${before} is updated to ${after}`));
  t.ok(
    gh.logs.some((l) => l.event === 'dns.transfer' && l.style === 'ixfr' && l.zone === 'normal/prolo'),
    'IXFR',
  );
  t.ok(
    gh.logs.some(
      (l) =>
        l.event === 'dns.notify' && l.zone === 'normal/prolo' && l.serial === after && l.result === 'acked',
    ),
    'NOTIFY acknowledged',
  );
  t.match(await kdig(nsdPort, 'late.prolo'), /192\.168\.0\.200/);
  t.notOk(
    gh.logs.some((l) => l.event === 'dns.notify' && l.result !== 'acked'),
    'only configured zones are NOTIFYed',
  );
});

t.test('transfers: TSIG required and verified; kdig checks every message of a signed AXFR', async (t) => {
  const gh = await startDns(t, {
    dns: {
      listen: ['127.0.0.1:0'],
      tsigKeys: [{ name: KEY, secret: SECRET }],
      secondaries: [{ address: '127.0.0.1', key: KEY }],
      transferMessageBytes: 1024,
    },
  });
  await gh.put(...machines);
  const signed = await kdig(
    gh.port,
    '-y',
    `hmac-sha256:${KEY}:${SECRET}`,
    '250.168.192.in-addr.arpa',
    'AXFR',
  );
  t.match(
    signed,
    /Received \d+ B \(([2-9]|\d{2,}) messages, 257 records\)/,
    'complete multi-message transfer',
  );
  t.notMatch(signed, /BADSIG|BADKEY|BADTIME|failed/i, 'no TSIG failure reported by kdig');
  const wrong = await kdig(
    gh.port,
    '-y',
    `hmac-sha256:${KEY}:${Buffer.alloc(32, 1).toString('base64')}`,
    'prolo',
    'AXFR',
  );
  t.match(wrong, /BADSIG|NOTAUTH|failed/i, 'wrong secret refused');
  const unsigned = await kdig(gh.port, 'prolo', 'AXFR');
  t.match(unsigned, /REFUSED|failed/i, 'unsigned transfer refused');
  const ixfr = await kdig(gh.port, '-y', `hmac-sha256:${KEY}:${SECRET}`, 'prolo', 'IXFR=1');
  t.match(ixfr, /prolo\.\s+10\s+IN\s+SOA/, 'IXFR from serial 1');
  const soaSigned = await kdig(gh.port, '-y', `hmac-sha256:${KEY}:${SECRET}`, 'prolo', 'SOA');
  t.match(soaSigned, /status: NOERROR/i);
  t.match(soaSigned, /TSIG PSEUDOSECTION/i, 'a signed query gets a signed answer');
});
