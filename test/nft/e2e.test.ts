import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { needsRoot } from '../helpers/netns.js';
import { repoRoot } from '../helpers/spawn-gatehouse.js';
import { ADDR, nsRun } from './lab.js';
import { startServeLab } from './serve-lab.js';

/**
 * The whole appliance (`gatehouse serve`) in the gateway namespace: the firewall registered in
 * services.ts follows the real presencesync service — heartbeats sent by `gatehouse presence
 * fake` from the LAN client — and `gatehouse fw …` reaches it through its admin API, or
 * programs the kernel itself when no server runs.
 */
t.test('gatehouse serve + presence + gatehouse fw, in namespaces', { skip: needsRoot }, async (t) => {
  const { lan, c0, dataDir, configFile, start, allowedNow, until, spawnHeartbeat } = await startServeLab(t, {
    prefix: 'ghfwe',
    tmpPrefix: 'ghfwe-',
    presenceTimeoutS: 2,
    startTimeoutMs: 60_000,
  });
  const gh = await start();
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
  t.equal(await fetch(ADDR.contestant), null, 'nobody logged in: dropped');

  // The heartbeat daemon's "fake" mode keeps a session alive from the client machine.
  const presence = spawnHeartbeat(0.5);
  await until(
    'the session to reach the allowed set',
    async () => (await allowedNow()).includes(ADDR.contestant),
    20_000,
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
    20_000,
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
