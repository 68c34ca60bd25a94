import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import { runCli } from '../../src/cli/main.js';
import { createMemoryLogger } from '../../src/log.js';
import {
  isProloginUid,
  loggedOnProloginUsers,
  runHeartbeatLoop,
  shortHostname,
  whoUsers,
} from '../../src/presence/heartbeat.js';
import type { PresenceService } from '../../src/presence/service.js';
import { startGatehouse } from '../helpers/gatehouse.js';
import { repoRoot } from '../helpers/spawn-gatehouse.js';
import { tempDir } from '../helpers/tmp.js';
import {
  del,
  FIXTURE_MACHINES,
  FIXTURE_USERS,
  getList,
  openPoll,
  PUB,
  presencePost,
  SUB,
  seed,
  upd,
} from './helpers.js';

t.test('short hostname, who -q parsing, uid range', (t) => {
  t.equal(shortHostname('pas-r01p01.prolo'), 'pas-r01p01');
  t.equal(shortHostname('a.b.c'), 'a.b', 'only the last label goes');
  t.equal(shortHostname('pas-r01p01'), 'pas-r01p01');
  t.same(whoUsers('alice bob alice\n# users=3\n'), ['alice', 'bob']);
  t.same(whoUsers('\n# users=0\n'), []);
  t.same(whoUsers(''), []);
  t.same([9999, 10000, 19999, 20000, 0, 10000.5].map(isProloginUid), [
    false,
    true,
    true,
    false,
    false,
    false,
  ]);
  fc.assert(
    fc.property(fc.string(), (s) => {
      const users = whoUsers(s);
      return new Set(users).size === users.length && users.every((u) => u.length > 0 && !/\s/.test(u));
    }),
  );
  t.end();
});

t.test('the loop: one user → heartbeat, none or several → nothing, errors → retry', async (t) => {
  let who = 'root alice\n# users=2';
  const failWho = false;
  const uids: Record<string, number> = { root: 0, alice: 10001, bob: 19999, carol: 20000 };
  const probe = {
    who: async () => {
      if (failWho) throw new Error('who exploded');
      return who;
    },
    uid: async (u: string) => uids[u],
  };
  t.same(await loggedOnProloginUsers(probe), ['alice']);
  who = 'carol root ghost\n';
  t.same(await loggedOnProloginUsers(probe), [], 'uid 20000 and unknown users are not Prologin users');

  // Each loop turn asks `who` once: the script below drives the turns, then stops the loop.
  const script: Array<string | Error> = [
    'root',
    'alice',
    'alice bob\n# users=2',
    '',
    new Error('who exploded'),
    'bob',
  ];
  const controller = new AbortController();
  const scripted = {
    who: async () => {
      const next = script.shift();
      if (script.length === 0) controller.abort();
      if (next instanceof Error) throw next;
      return next ?? '';
    },
    uid: probe.uid,
  };
  const sent: string[] = [];
  const logger = createMemoryLogger();
  await runHeartbeatLoop({
    probe: scripted,
    send: async (l, h) => {
      sent.push(`${l}@${h}`);
      return { status: sent.length === 2 ? 403 : 200 };
    },
    hostname: 'pas-r01p01',
    intervalSeconds: 0.01,
    retrySeconds: 0.01,
    logger,
    signal: controller.signal,
  });
  t.same(sent, ['alice@pas-r01p01', 'bob@pas-r01p01'], 'only the turns with exactly one user send');
  const events = logger.records.map((r) => r.event);
  t.equal(events.filter((e) => e === 'presence.too_many_users').length, 1);
  t.equal(events.filter((e) => e === 'presence.heartbeat_failed').length, 1, 'error logged, loop went on');
  t.equal(events.filter((e) => e === 'presence.heartbeat_refused').length, 1, 'a refused token is visible');
});

/** A child `gatehouse` under tsx loads every command group; a loaded CI box needs time. */
const STARTUP_MS = 45_000;

/** Fake `who` and `id` commands: `who -q` prints the file `who.txt`, `id -u` knows a few users. */
function fakeCommands(dir: string) {
  const whoFile = path.join(dir, 'who.txt');
  const who = path.join(dir, 'who');
  const id = path.join(dir, 'id');
  fs.writeFileSync(who, `#!/bin/sh\ncat '${whoFile}'\n`, { mode: 0o755 });
  fs.writeFileSync(
    id,
    `#!/bin/sh\n[ "$1" = -u ] || exit 2\ncase "$2" in\n  root) echo 0;;\n  alice) echo 10001;;\n  bob) echo 10002;;\n  *) echo "id: '$2': no such user" >&2; exit 1;;\nesac\n`,
    { mode: 0o755 },
  );
  return { who, id, setWho: (text: string) => fs.writeFileSync(whoFile, text) };
}

function spawnCli(
  args: string[],
  teardown: { teardown(fn: () => void | Promise<void>): void },
): ChildProcess {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), ...args],
    {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout!.resume();
  child.stderr!.resume();
  teardown.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return child;
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

t.test(
  'scenario 65 + daemon: `gatehouse presence heartbeat` with a fake who keeps a session, then lets it expire',
  async (t) => {
    // 3 s: heartbeats every 1.5 s, so a daemon starved by a loaded CI box still keeps up.
    const TIMEOUT = 3;
    const gh = await startGatehouse(t, {
      secrets: { presencesyncPub: PUB, presencesyncSub: SUB },
      presence: { timeout: TIMEOUT },
    });
    await seed(gh.app.store, FIXTURE_MACHINES, FIXTURE_USERS);
    const fake = fakeCommands(tempDir(t));
    fake.setWho('root alice\n# users=2\n');
    const poll = await openPoll(gh.baseUrl);
    t.teardown(() => poll.close());
    t.same(await poll.next(), []);

    const daemon = spawnCli(
      [
        'presence',
        'heartbeat',
        '--url',
        `${gh.baseUrl}/`,
        '--host-header',
        'presencesync',
        '--secret',
        PUB,
        '--timeout',
        String(TIMEOUT),
        '--hostname',
        'pas-r01p01.prolo',
        '--who',
        fake.who,
        '--id',
        fake.id,
      ],
      t,
    );
    // exactly one Prologin user (uid 10001) → heartbeats with the short hostname
    t.same(await poll.next(STARTUP_MS), [upd('alice', 'pas-r01p01')], 'session created by the daemon');
    const heartbeats = () =>
      gh.logs.filter((r) => r.event === 'presence.heartbeat' && r.login === 'alice').length;
    const start = heartbeats();
    const windowS = TIMEOUT * 3;
    await new Promise((r) => setTimeout(r, windowS * 1000));
    const sent = heartbeats() - start;
    t.ok(
      // never more than one per interval; fewer only if the box starved the daemon
      sent >= windowS / (TIMEOUT / 2) / 2 && sent <= windowS / (TIMEOUT / 2) + 1.5,
      `one heartbeat every TIMEOUT/2 (${sent} in ${windowS} s)`,
    );
    // the session lived through four timeouts without any message: the next one is the sentinel's
    await presencePost(gh.baseUrl, '/heartbeat', { login: 'cana_p', hostname: 'pas-r01p02' });
    t.same(await poll.next(), [upd('cana_p', 'pas-r01p02')], 'no delete while the daemon runs');

    // two Prologin users → no heartbeat → the session expires (cana_p's goes too)
    fake.setWho('alice bob\n# users=2\n');
    const afterTwo = heartbeats();
    const deleted = new Set<string>();
    while (!deleted.has('alice') || !deleted.has('cana_p')) {
      for (const u of (await poll.next(TIMEOUT * 3000)) as Array<{ type: string; data: { login: string } }>) {
        t.equal(u.type, 'delete', `${u.data.login} deleted`);
        deleted.add(u.data.login);
      }
    }
    t.equal(heartbeats(), afterTwo, 'with two users nothing was sent');

    // back to one user, then stop the daemon: the session expires after one TIMEOUT
    fake.setWho('alice\n');
    const back = (await poll.next(TIMEOUT * 3000)) as unknown[];
    t.same(back.at(-1), upd('alice', 'pas-r01p01'), 'session recreated');
    daemon.kill('SIGTERM');
    t.equal(await exited(daemon), 0, 'daemon stops cleanly on SIGTERM');
    // On a starved box a late heartbeat may have let the session lapse and recreated it just
    // before the stop ([delete, update] in one message); what matters is the last word.
    let last: unknown;
    do last = ((await poll.next(TIMEOUT * 3000)) as unknown[]).at(-1);
    while (JSON.stringify(last) !== JSON.stringify(del('alice')));
    t.pass('expired once the daemon stopped');
    t.equal((await getList(gh.baseUrl)).body, '{}', 'nothing recreated it');
  },
);

t.test('`gatehouse presence fake` (child process) and `login`/`logout` (in-process CLI)', async (t) => {
  const gh = await startGatehouse(t, {
    secrets: { presencesyncPub: PUB, presencesyncSub: SUB },
    presence: { timeout: 2 },
  });
  await seed(gh.app.store, FIXTURE_MACHINES, FIXTURE_USERS);
  const common = ['--url', gh.baseUrl, '--host-header', 'presencesync', '--secret', PUB];
  const poll = await openPoll(gh.baseUrl);
  t.teardown(() => poll.close());
  t.same(await poll.next(), []);
  const fakeproc = spawnCli(['presence', 'fake', 'nathalie', 'srv01', '--every', '0.5', ...common], t);
  t.same(await poll.next(STARTUP_MS), [upd('nathalie', 'srv01')], 'fakepresence heartbeat');
  fakeproc.kill('SIGTERM');
  t.equal(await exited(fakeproc), 0);

  const presence = gh.app.service<PresenceService>('presencesync')!;
  const wait = presence.rules.embargoEndsAt * 1000 - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait + 20));
  const run = async (args: string[]) => {
    const out: string[] = [];
    const code = await runCli(args, { out: (l) => out.push(l), err: () => {} });
    return { code, out: out.join('\n') };
  };
  t.same(
    await run(['presence', 'login', 'aproviste', 'pas-r01p03', ...common]),
    { code: 0, out: '' },
    'login accepted',
  );
  t.same(
    await run(['presence', 'login', 'jmarchand', 'pas-r01p03', ...common]),
    { code: 1, out: 'pas-r01p03 is busy' },
    'refusal on stdout, exit 1',
  );
  t.same(await run(['presence', 'logout', 'aproviste', 'pas-r01p02', ...common]), {
    code: 1,
    out: 'Requested logout from the wrong hostname',
  });
  t.same(await run(['presence', 'logout', 'aproviste', 'pas-r01p03', ...common]), { code: 0, out: '' });
  const wrongSecret = ['--url', gh.baseUrl, '--host-header', 'presencesync', '--secret', SUB];
  t.same(await run(['presence', 'login', 'aproviste', 'pas-r01p03', ...wrongSecret]), {
    code: 1,
    out: 'Invalid token',
  });
  t.equal(
    await run(['presence', 'login', 'x', '--url', gh.baseUrl, '--secret-file', '/nonexistent/ghps']).then(
      (r) => r.code,
    ),
    1,
    'missing secret file',
  );
});

t.test(
  'the daemon in its own UTS namespace names the machine by its short system hostname',
  { skip: process.getuid?.() === 0 ? false : 'needs root (unshare --uts); CI runs as root' },
  async (t) => {
    const gh = await startGatehouse(t, {
      secrets: { presencesyncPub: PUB, presencesyncSub: SUB },
      presence: { timeout: 3 },
    });
    const fake = fakeCommands(tempDir(t));
    fake.setWho('alice\n# users=1\n');
    const poll = await openPoll(gh.baseUrl);
    t.teardown(() => poll.close());
    t.same(await poll.next(), []);
    const cli = [
      process.execPath,
      '--import',
      'tsx',
      path.join(repoRoot, 'src/cli/main.ts'),
      'presence',
      'heartbeat',
    ];
    const args = [
      '--url',
      gh.baseUrl,
      '--host-header',
      'presencesync',
      '--secret',
      PUB,
      '--timeout',
      '3',
      '--who',
      fake.who,
      '--id',
      fake.id,
    ];
    const quoted = [...cli, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
    const env = { ...process.env };
    delete env.GATEHOUSE_PRESENCE_HOSTNAME;
    const daemon = spawn('unshare', ['--uts', 'sh', '-c', `hostname ghps-m1.prolo && exec ${quoted}`], {
      cwd: repoRoot,
      env,
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    t.teardown(() => {
      if (daemon.exitCode === null) daemon.kill('SIGKILL');
    });
    t.same(await poll.next(STARTUP_MS), [upd('alice', 'ghps-m1')], 'ghps-m1.prolo → ghps-m1');
    daemon.kill('SIGTERM');
    t.equal(await exited(daemon), 0);
  },
);
