import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { pyJsonDumps } from '../../src/rpc/pyjson.js';
import { generateToken } from '../../src/sync/timeauth.js';
import { needsRoot } from '../helpers/netns.js';
import { repoRoot } from '../helpers/spawn-gatehouse.js';
import { ADDR, nsRun, nsSpawn } from './lab.js';
import { PRESENCESYNC_PUB, startServeLab } from './serve-lab.js';

/**
 * Issue 15 item 13 (docs/firewall.md: "never a window in which allowed machines are cut off"):
 * the whole appliance in the gateway namespace, a contestant logged in on m01 and heart-beating
 * every TIMEOUT/2 as in production, opening a new flow every 100 ms across a SIGTERM and a start
 * of Gatehouse. Before presence was saved in the store the new process rebuilt the allowed set
 * from an empty presence and cut m01 off until its next heartbeat, and refused every login for
 * one TIMEOUT.
 */
const TIMEOUT = 10;

t.test(
  'a restart cuts no allowed machine off and answers logins as before',
  { skip: needsRoot },
  async (t) => {
    const { lan, c0, children, start, allowedNow, until, spawnHeartbeat } = await startServeLab(t, {
      prefix: 'pr',
      tmpPrefix: 'ghpr-',
      presenceTimeoutS: TIMEOUT,
      startTimeoutMs: 90_000,
    });
    let gh = await start();
    const firstStart = Date.now();
    t.teardown(() => gh.stop('SIGKILL'));

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
        `hmac=${generateToken(PRESENCESYNC_PUB, data)}`,
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
    spawnHeartbeat(TIMEOUT / 2);
    await until(
      'the session to reach the allowed set',
      async () => (await allowedNow()).includes(ADDR.contestant),
      30_000,
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
