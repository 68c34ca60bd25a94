import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { allMigrations } from '../../src/migrations.js';
import { machinesTable } from '../../src/mdb/model.js';
import { Store } from '../../src/store/index.js';
import { usersTable } from '../../src/udb/model.js';
import { createLan, needsRoot } from '../helpers/netns.js';
import { repoRoot, spawnGatehouse } from '../helpers/spawn-gatehouse.js';
import { tempDir } from '../helpers/tmp.js';
import { ADDR, MACHINES, USERS, nsRun, nsSpawn } from './lab.js';

/**
 * The whole appliance (`gatehouse serve`) in the gateway namespace: the firewall registered in
 * services.ts follows the real presencesync service — heartbeats sent by `gatehouse presence
 * fake` from the LAN client — and `gatehouse fw …` reaches it through its admin API, or
 * programs the kernel itself when no server runs.
 */
t.test('gatehouse serve + presence + gatehouse fw, in namespaces', { skip: needsRoot }, async (t) => {
  const lan = await createLan({ prefix: 'ghfwe', clients: 1 });
  const children: ChildProcess[] = [];
  t.teardown(async () => {
    for (const c of children) c.kill('SIGKILL');
    await lan.destroy();
  });
  const c0 = lan.clients[0]!;
  for (const a of [ADDR.contestant, ADDR.contestant2])
    await c0.exec('ip', ['addr', 'add', `${a}/23`, 'dev', 'eth0']);
  await c0.exec('ip', ['route', 'add', 'default', 'via', '192.168.1.254', 'src', ADDR.contestant]);
  const internet = nsSpawn(lan.internet.name, [
    process.execPath,
    '--import',
    'tsx',
    path.join(repoRoot, 'test/nft/fixtures/internet.ts'),
  ]);
  children.push(internet);
  await new Promise<void>((resolve) =>
    internet.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()),
  );

  const dir = tempDir(t, 'ghfwe-');
  const dataDir = path.join(dir, 'data');
  const store = await Store.open({ dir: dataDir, migrations: allMigrations });
  await store.write((tx) => {
    for (const m of MACHINES) tx.put(machinesTable(store), m.hostname, m);
    for (const u of USERS) tx.put(usersTable(store), u.login, u);
  });
  await store.close();
  const configYaml = [
    `dataDir: ${dataDir}`,
    'demo: { seed: false }',
    "http: { listen: ['0.0.0.0:80'] }",
    "dns: { listen: ['127.0.0.1:0'] }",
    "tftp: { listen: ['127.0.0.1:0'] }",
    "dhcp: { listen: '127.0.0.1:0' }",
    'presence: { timeout: 2 }',
    'firewall: { enabled: true, lanInterfaces: [lan0], uplinkInterfaces: [uplink] }',
    '',
  ].join('\n');
  const configFile = path.join(dir, 'gatehouse.yml');
  // spawnGatehouse passes our environment on: drop tap's loader from it (see lab.ts childEnv).
  delete process.env.NODE_OPTIONS;
  const gh = await spawnGatehouse({ dir, netns: lan.gw, configYaml, startTimeoutMs: 60_000 });
  t.teardown(() => gh.stop());

  const fetch = async (src: string) => {
    const r = await nsRun(c0.name, [
      'curl',
      '-sS',
      '--interface',
      src,
      '--connect-timeout',
      '1',
      '-m',
      '3',
      `http://${lan.uplink.internet}:443/`,
    ]);
    return r.code === 0 ? r.stdout.trim() : null;
  };
  const fw = (...args: string[]) =>
    nsRun(
      lan.gw.name,
      [
        process.execPath,
        '--import',
        'tsx',
        path.join(repoRoot, 'src/cli/main.ts'),
        'fw',
        ...args,
        '--config',
        configFile,
      ],
      30_000,
    );
  // Polled through nft itself (a CLI start costs seconds under tsx).
  const allowedNow = async () => {
    const r = await nsRun(lan.gw.name, [
      'nft',
      '-j',
      'list',
      'set',
      'inet',
      'gatehouse',
      'allowed_internet_access',
    ]);
    const doc = JSON.parse(r.stdout || '{"nftables":[]}') as {
      nftables: Array<{ set?: { elem?: string[] } }>;
    };
    return doc.nftables.find((o) => o.set)?.set?.elem ?? [];
  };
  const until = async (what: string, pred: () => Promise<boolean>) => {
    const end = Date.now() + 20_000;
    while (!(await pred())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  t.equal(await fetch(ADDR.contestant), null, 'nobody logged in: dropped');

  // The heartbeat daemon's "fake" mode keeps a session alive from the client machine.
  const presence = nsSpawn(c0.name, [
    process.execPath,
    '--import',
    'tsx',
    path.join(repoRoot, 'src/cli/main.ts'),
    'presence',
    'fake',
    'aproviste',
    'm01',
    '--every',
    '0.5',
    '--url',
    'http://192.168.1.254/',
    '--host-header',
    'presencesync',
    '--secret',
    'demo-presencesync-pub',
  ]);
  children.push(presence);
  await until('the session to reach the allowed set', async () =>
    (await allowedNow()).includes(ADDR.contestant),
  );
  t.equal(await fetch(ADDR.contestant), lan.uplink.gw, 'logged in through presencesync: out, masqueraded');
  t.equal(await fetch(ADDR.contestant2), null, 'the neighbour stays dropped');

  const on = await fw('contest', 'on');
  t.equal(on.code, 0, on.stderr);
  t.match(on.stdout, /contest mode on: allowed groups root, orga; set now holds 1 address/);
  t.equal(await fetch(ADDR.contestant), null, 'contest mode through the admin API cuts the contestant');
  const status = await fw('status');
  t.equal(status.code, 0, status.stdout);
  t.match(status.stdout, /up, as planned/);
  t.match(status.stdout, /contest mode: on/);
  t.match(status.stdout, /server: running/);
  const off = await fw('contest', 'off');
  t.match(
    off.stdout,
    /contest mode off: .* set now holds 2 address/,
    'contest off: the contestant is back in the set',
  );
  presence.kill('SIGKILL');
  await until(
    'the expired session to leave the set',
    async () => !(await allowedNow()).includes(ADDR.contestant),
  );
  t.equal(await fetch(ADDR.contestant), null, 'session expired: dropped again');

  const down = await fw('down');
  t.match(down.stdout, /removed by the running server/);
  t.equal((await nsRun(lan.gw.name, ['nft', 'list', 'tables'])).stdout.trim(), '', 'table gone');
  t.match((await fw('up')).stdout, /re-created by the running server/);

  await gh.stop();
  t.match(
    (await nsRun(lan.gw.name, ['nft', 'list', 'tables'])).stdout,
    /table inet gatehouse/,
    'stopping Gatehouse keeps the firewall (fails closed)',
  );
  t.equal(await fetch(ADDR.contestant2), null);
  const localDown = await fw('down');
  t.match(localDown.stdout, /fw down: table inet gatehouse removed/);
  const localContest = await fw('contest', 'on');
  t.match(localContest.stdout, /saved in .* \(no server running/);
  const localUp = await fw('up');
  t.match(
    localUp.stdout,
    /fw up: table inet gatehouse programmed \(1 allowed address/,
    'without presence: organizer machines only',
  );
  t.match(
    (await nsRun(lan.gw.name, ['nft', 'list', 'set', 'inet', 'gatehouse', 'allowed_internet_access'])).stdout,
    /elements = \{ 192\.168\.0\.100 \}/,
  );
  t.ok(fs.existsSync(path.join(dataDir, 'connections.log')), 'the connection log was written');
});
