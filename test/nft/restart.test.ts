import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { machinesTable } from '../../src/mdb/model.js';
import { allMigrations } from '../../src/migrations.js';
import { pyJsonDumps } from '../../src/rpc/pyjson.js';
import { Store } from '../../src/store/index.js';
import { generateToken } from '../../src/sync/timeauth.js';
import { usersTable } from '../../src/udb/model.js';
import { createLan, needsRoot } from '../helpers/netns.js';
import { repoRoot, spawnGatehouse } from '../helpers/spawn-gatehouse.js';
import { tempDir } from '../helpers/tmp.js';
import { ADDR, MACHINES, USERS, nsRun, nsSpawn } from './lab.js';

/**
 * Issue 15 item 13 (docs/firewall.md: "never a window in which allowed machines are cut off"):
 * the whole appliance in the gateway namespace, a contestant logged in on m01 and heart-beating
 * every TIMEOUT/2 as in production, opening a new flow every 100 ms across a SIGTERM and a start
 * of Gatehouse. Before presence was saved in the store the new process rebuilt the allowed set
 * from an empty presence and cut m01 off until its next heartbeat, and refused every login for
 * one TIMEOUT.
 */
const TIMEOUT = 10;
const PUB = 'demo-presencesync-pub';

t.test(
  'a restart cuts no allowed machine off and answers logins as before',
  { skip: needsRoot },
  async (t) => {
    const lan = await createLan({ prefix: 'pr', clients: 1 });
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

    const dir = tempDir(t, 'ghpr-');
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
      `presence: { timeout: ${TIMEOUT} }`,
      'firewall: { enabled: true, lanInterfaces: [lan0], uplinkInterfaces: [uplink] }',
      '',
    ].join('\n');
    // spawnGatehouse passes our environment on: drop tap's loader from it (see lab.ts childEnv).
    delete process.env.NODE_OPTIONS;
    const start = () => spawnGatehouse({ dir, netns: lan.gw, configYaml, startTimeoutMs: 90_000 });
    let gh = await start();
    const firstStart = Date.now();
    t.teardown(() => gh.stop('SIGKILL'));

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
      const end = Date.now() + 30_000;
      while (!(await pred())) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        await sleep(200);
      }
    };
    /** POST /login from the client machine, as the PAM hook does: [status, body]. */
    const login = async (user: string, hostname: string) => {
      const data = pyJsonDumps({ login: user, hostname });
      const r = await nsRun(c0.name, [
        'curl',
        '-sS',
        '-m',
        '5',
        '-H',
        'Host: presencesync',
        '--data-urlencode',
        `data=${data}`,
        '--data-urlencode',
        `hmac=${generateToken(PUB, data)}`,
        '-w',
        '\n%{http_code}',
        'http://192.168.1.254/login',
      ]);
      const lines = r.stdout.split('\n');
      return [Number(lines.pop()), lines.join('\n')];
    };
    /** What SSO says of m01 to an nginx on the gateway itself. */
    const sso = async () => {
      const r = await nsRun(lan.gw.name, [
        'curl',
        '-sS',
        '-m',
        '5',
        '-o',
        '/dev/null',
        '-D',
        '-',
        '-H',
        'Host: sso',
        '-H',
        `X-Real-IP: ${ADDR.contestant}`,
        'http://127.0.0.1/',
      ]);
      const header = (name: string) => new RegExp(`^${name}: (.*?)\\r?$`, 'mi').exec(r.stdout)?.[1] ?? null;
      return [header('X-SSO-Status'), header('X-SSO-User')];
    };
    const answers = async () => [
      await login('bcontest', 'm01'),
      await login('aproviste', 'm02'),
      await sso(),
    ];

    // The contestant's machine: a session kept by heartbeats every TIMEOUT/2, as in production.
    const heartbeat = nsSpawn(c0.name, [
      process.execPath,
      '--import',
      'tsx',
      path.join(repoRoot, 'src/cli/main.ts'),
      'presence',
      'fake',
      'aproviste',
      'm01',
      '--every',
      String(TIMEOUT / 2),
      '--url',
      'http://192.168.1.254/',
      '--host-header',
      'presencesync',
      '--secret',
      PUB,
    ]);
    children.push(heartbeat);
    await until('the session to reach the allowed set', async () =>
      (await allowedNow()).includes(ADDR.contestant),
    );

    const probe = nsSpawn(c0.name, [
      process.execPath,
      '--import',
      'tsx',
      path.join(repoRoot, 'test/nft/fixtures/client.ts'),
      'every',
      ADDR.contestant,
      lan.uplink.internet,
      '100',
    ]);
    children.push(probe);
    let probeOut = '';
    probe.stdout!.on('data', (d: Buffer) => (probeOut += d.toString()));
    await new Promise<void>((resolve, reject) => {
      probe.stderr!.on('data', (d: Buffer) => d.toString().includes('probing') && resolve());
      probe.on('exit', () => reject(new Error('the probe could not reach the Internet server')));
    });

    // Logins are arbitrated once the start-up embargo of the first start is over.
    const embargo = firstStart + TIMEOUT * 1000 + 500 - Date.now();
    if (embargo > 0) await sleep(embargo);
    const before = await answers();
    t.same(
      before,
      [
        [423, 'm01 is busy'],
        [423, 'aproviste is already logged somewhere else'],
        ['authenticated', 'aproviste'],
      ],
      'before the restart',
    );

    t.equal(await gh.stop('SIGTERM'), 0, 'SIGTERM: a clean stop');
    gh = await start();
    t.ok((await allowedNow()).includes(ADDR.contestant), 'the new process kept m01 in the allowed set');
    t.same(await answers(), before, 'right after the start: the same answers');

    // Past the next heartbeat of m01 and beyond: every flow must have passed.
    await sleep((TIMEOUT / 2) * 1000 + 2000);
    const result = new Promise<{ sent: number; ok: number; lost: number; lostAt: string[] }>(
      (resolve, reject) =>
        probe.on('exit', (code) =>
          code === 0 ? resolve(JSON.parse(probeOut.trim())) : reject(new Error(`probe exited ${code}`)),
        ),
    );
    probe.stdin!.end();
    const r = await result;
    t.ok(r.sent > 50, `${r.sent} new flows from m01 across the restart`);
    const span = r.lostAt.length > 0 ? `${r.lostAt[0]} … ${r.lostAt.at(-1)}` : 'none';
    t.equal(r.lost, 0, `no new flow of m01 was dropped (lost: ${span})`);
    t.same(await answers(), before, 'and still the same answers after the next heartbeats');
  },
);
