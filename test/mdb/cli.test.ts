import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { runCli } from '../../src/cli/main.js';
import { writeServerLock } from '../../src/cli/server-lock.js';
import { Store } from '../../src/store/index.js';
import { allMigrations } from '../../src/migrations.js';
import { T } from '../../src/mdb/tables.js';
import { settingsByKey } from '../../src/mdb/settings.js';
import { userMachineFields } from '../helpers/cli-server.js';
import { startGatehouse } from '../helpers/gatehouse.js';
import { tempDir } from '../helpers/tmp.js';
import { openPoll, pollQuery } from '../sync/poll-client.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

const GW = [
  'addmachine',
  '--hostname',
  'gw',
  '--mac',
  '11:22:33:44:55:66',
  '--ip',
  '192.168.1.254',
  '--rfs',
  '0',
  '--hfs',
  '0',
  '--mtype',
  'service',
  '--room',
  'pasteur',
  '--aliases',
  'mdb,mdbsync,ns,netboot,udb,udbsync,presencesync,ntp,sso',
];

async function withStore<R>(dir: string, fn: (s: Store) => R): Promise<R> {
  const store = await Store.open({ dir, migrations: allMigrations });
  try {
    return fn(store);
  } finally {
    await store.close();
  }
}

t.test(
  'without a server: setup.rst addmachine, --update rules, delmachine, list, switch add, set',
  async (t) => {
    const dir = tempDir(t);
    const c = capture();
    t.equal(await runCli(['mdb', ...GW, '--data', dir], c.io), 0, c.err.join('\n'));
    t.same(c.out, ['Added machine gw (ip 192.168.1.254, mac 11:22:33:44:55:66)']);
    const again = capture();
    t.equal(
      await runCli(['mdb', ...GW, '--data', dir], again.io),
      1,
      'without --update an existing hostname is an error',
    );
    t.match(again.err.join('\n'), /Machine with this Host name already exists/);
    const upd = capture();
    t.equal(
      await runCli(
        [
          'mdb',
          'addmachine',
          '--hostname',
          'gw',
          '--update',
          '--rfs',
          '3',
          '--aliases',
          '',
          '--mac',
          'ff:ff:ff:ff:ff:ff',
          '--data',
          dir,
        ],
        upd.io,
      ),
      0,
      upd.err.join('\n'),
    );
    const gw = await withStore(dir, (s) => s.read((tx) => tx.get(T.machines, 'gw')));
    t.match(
      gw,
      {
        rfs: 3,
        mac: '11:22:33:44:55:66',
        aliases: 'mdb,mdbsync,ns,netboot,udb,udbsync,presencesync,ntp,sso',
      },
      '--update: only non-empty aliases/rfs/hfs/mtype/room change',
    );
    const missing = capture();
    t.equal(
      await runCli(
        ['mdb', 'addmachine', '--hostname', 'x', '--mac', '11:22:33:44:55:00', '--data', dir],
        missing.io,
      ),
      1,
    );
    t.match(missing.err.join('\n'), /needs --aliases, --rfs, --hfs, --mtype, --room/);
    const alloc = capture();
    t.equal(
      await runCli(
        ['mdb', 'addmachine', ...userMachineFields('pas-r01p01', '52:54:00:12:34:56'), '--data', dir],
        alloc.io,
      ),
      0,
    );
    t.match(alloc.out[0], /ip 192\.168\.0\.1,/);
    const list = capture();
    t.equal(await runCli(['mdb', 'list', '--data', dir], list.io), 0);
    t.equal(list.out.length, 2);
    t.match(list.out[0], /^gw\t192\.168\.1\.254\t/);
    const json = capture();
    await runCli(['mdb', 'list', '--json', 'mtype=user', '--data', dir], json.io);
    t.same(
      (JSON.parse(json.out.join('\n')) as Array<{ hostname: string }>).map((m) => m.hostname),
      ['pas-r01p01'],
    );
    const badFilter = capture();
    t.equal(await runCli(['mdb', 'list', 'is_faulty=1', '--data', dir], badFilter.io), 1);
    t.match(badFilter.err.join('\n'), /'is_faulty' is not a valid query argument/);
    const sw = capture();
    t.equal(
      await runCli(
        [
          'mdb',
          'switch',
          'add',
          '--name',
          'sw1',
          '--chassis',
          '68:B5:99:9F:45:40',
          '--room',
          'pasteur',
          '--data',
          dir,
        ],
        sw.io,
      ),
      0,
    );
    t.match(sw.out[0], /chassis 68:b5:99:9f:45:40/);
    const set = capture();
    t.equal(
      await runCli(['mdb', 'set', 'allow_self_registration', 'false', '--data', dir], set.io),
      0,
      set.err.join('\n'),
    );
    const rows = await withStore(dir, (s) => s.read((tx) => settingsByKey(tx, 'allow_self_registration')));
    t.same(
      rows.map((r) => r.value_bool),
      [false],
    );
    const del = capture();
    t.equal(await runCli(['mdb', 'delmachine', 'gw', '--data', dir], del.io), 0);
    t.same(del.out, ['Deleted machine gw (ip 192.168.1.254, mac 11:22:33:44:55:66)']);
    const delMissing = capture();
    t.equal(await runCli(['mdb', 'delmachine', 'gw', '--data', dir], delMissing.io), 1);
    t.match(delMissing.err.join('\n'), /no machine named "gw"/);
    const usage = capture();
    t.equal(await runCli(['mdb', 'frob'], usage.io), 2);
  },
);

t.test('import: dry run first (a bad record imports nothing), then batches with progress', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'machines.json');
  const rows = Array.from({ length: 1200 }, (_, i) => ({
    hostname: `m${i}`,
    mac: `02:00:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
    mtype: 'cluster',
    room: 'cluster',
    ip: `10.0.${i >> 8}.${i & 255}`,
  }));
  fs.writeFileSync(
    file,
    JSON.stringify([...rows.slice(0, 700), { hostname: 'Bad', mac: 'x' }, ...rows.slice(700)]),
  );
  const bad = capture();
  t.equal(await runCli(['mdb', 'import', file, '--data', dir], bad.io), 1);
  t.match(bad.err.join('\n'), /record #701 \(Bad\).*nothing was imported/);
  t.equal(await withStore(dir, (s) => s.read((tx) => tx.count(T.machines))), 0);
  fs.writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n'));
  const ok = capture();
  t.equal(await runCli(['mdb', 'import', file, '--data', dir], ok.io), 0, ok.err.join('\n'));
  t.same(ok.out, ['Imported 1200 machines (1200 added, 0 updated)']);
  t.match(
    ok.err.join('\n'),
    /machines: 500\/1200 .*\n.*machines: 1000\/1200 .*\n.*machines: 1200\/1200 \(100%\)/,
  );
  const dup = capture();
  t.equal(
    await runCli(['mdb', 'import', file, '--data', dir], dup.io),
    1,
    'existing hostnames need --update',
  );
  const upd = capture();
  t.equal(await runCli(['mdb', 'import', file, '--update', '--data', dir], upd.io), 0);
  t.same(upd.out, ['Imported 1200 machines (0 added, 1200 updated)']);
});

t.test('with a running server the operations go through it and mdbsync sees them', async (t) => {
  const gh = await startGatehouse(t, { secrets: { mdbsyncSub: 'SUB' } });
  writeServerLock(gh.config.dataDir, { pid: process.pid, http: gh.app.http.addresses()[0]! });
  const s = await openPoll(gh.baseUrl, 'mdbsync', pollQuery('SUB'));
  t.teardown(() => s.close());
  t.equal(await s.next(), '[]');
  const c = capture();
  t.equal(await runCli(['mdb', ...GW, '--data', gh.config.dataDir], c.io), 0, c.err.join('\n'));
  t.match(await s.next(1000), /"hostname": "gw"/);
  const d = capture();
  t.equal(await runCli(['mdb', 'delmachine', 'gw', '--data', gh.config.dataDir], d.io), 0);
  t.match(await s.next(1000), /"type": "delete"/);
  const set = capture();
  t.equal(
    await runCli(['mdb', 'set', 'allow_self_registration', 'off', '--data', gh.config.dataDir], set.io),
    0,
  );
  t.same(
    gh.app.store.read((tx) => settingsByKey(tx, 'allow_self_registration')).map((r) => r.value_bool),
    [false],
  );
});
