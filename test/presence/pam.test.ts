import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { PresenceService } from '../../src/presence/service.js';
import { startGatehouse } from '../helpers/gatehouse.js';
import { repoRoot } from '../helpers/spawn-gatehouse.js';
import { tempDir } from '../helpers/tmp.js';
import { FIXTURE_MACHINES, FIXTURE_USERS, getList, PUB, presencePost, SUB, seed } from './helpers.js';

const HOOK = path.join(repoRoot, 'contrib/pam/gatehouse-presence-pam');

interface HookRun {
  code: number;
  stderr: string[];
}

t.test('PAM hook: account / open_session / close_session against presencesync', async (t) => {
  // Sessions outlive several CLI runs even on a loaded box.
  const TIMEOUT = 15;
  const gh = await startGatehouse(t, {
    secrets: { presencesyncPub: PUB, presencesyncSub: SUB },
    presence: { timeout: TIMEOUT },
  });
  await seed(gh.app.store, FIXTURE_MACHINES, FIXTURE_USERS);
  const presence = gh.app.service<PresenceService>('presencesync')!;

  // Fakes first on PATH: `id` knows the test users, `pkill` records its arguments.
  const bin = tempDir(t, 'ghps-pam-');
  const pkillLog = path.join(bin, 'pkill.log');
  fs.writeFileSync(
    path.join(bin, 'id'),
    `#!/bin/sh\n[ "$1" = -u ] && [ "$2" = -- ] || exit 2\ncase "$3" in root) echo 0;; alice) echo 10001;; jmarchand) echo 10002;; *) exit 1;; esac\n`,
    { mode: 0o755 },
  );
  fs.writeFileSync(path.join(bin, 'pkill'), `#!/bin/sh\necho "$*" >> '${pkillLog}'\nexit 1\n`, {
    mode: 0o755,
  });
  fs.writeFileSync(
    path.join(bin, 'gatehouse'),
    `#!/bin/sh\nexec '${process.execPath}' --import tsx '${repoRoot}/test/presence/fixtures/presence-cli.ts' "$@"\n`,
    { mode: 0o755 },
  );
  // the UDB test users are `aproviste`… on the server; the machine's users are alice/jmarchand
  await seed(gh.app.store, [], [{ ...FIXTURE_USERS[0]!, login: 'alice', uid: 10001, id: 10001 }]);

  const hook = (type: string, pamUser: string, env: Record<string, string> = {}): Promise<HookRun> =>
    new Promise((resolve) => {
      execFile(
        HOOK,
        [],
        {
          cwd: repoRoot,
          timeout: 60_000,
          env: {
            PATH: `${bin}:${process.env.PATH}`,
            PAM_TYPE: type,
            PAM_USER: pamUser,
            PAM_SERVICE: 'lightdm',
            GATEHOUSE_PRESENCE_ENV: '/nonexistent/ghps',
            GATEHOUSE_PRESENCE_URL: gh.baseUrl,
            GATEHOUSE_PRESENCE_HOST: 'presencesync',
            GATEHOUSE_PRESENCE_SECRET: PUB,
            GATEHOUSE_PRESENCE_HOSTNAME: 'pas-r01p01.prolo',
            ...env,
          },
        },
        (err, _stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
          resolve({ code, stderr: stderr.split('\n').filter(Boolean) });
        },
      );
    });

  t.same(
    await hook('account', 'alice', { PAM_SERVICE: 'systemd-user' }),
    { code: 0, stderr: [] },
    'systemd-user is ignored',
  );
  t.same(await hook('account', 'root'), { code: 0, stderr: [] }, 'uid outside [10000, 20000) is ignored');
  t.same(await hook('account', 'nosuchuser'), { code: 0, stderr: [] }, 'unknown system user is ignored');

  // The start-up embargo, against a second server whose embargo cannot end during the run.
  const fresh = await startGatehouse(t, {
    secrets: { presencesyncPub: PUB, presencesyncSub: SUB },
    presence: { timeout: 600 },
  });
  const early = await hook('account', 'alice', { GATEHOUSE_PRESENCE_URL: fresh.baseUrl });
  t.equal(early.code, 1, 'embargo: PAM failure');
  t.same(
    early.stderr.map((l) => JSON.parse(l)),
    [
      { message: 'Checking user…', isError: false },
      { message: 'Login forbidden: Too early login: try again later', isError: true },
    ],
  );
  const wait = presence.rules.embargoEndsAt * 1000 - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait + 20));

  const account = await hook('account', 'alice');
  t.same(
    account,
    { code: 0, stderr: ['{"message": "Checking user…", "isError": false}'] },
    'account accepted',
  );
  t.equal((await getList(gh.baseUrl)).body, '{"alice": "pas-r01p01"}', 'session on the short hostname');
  t.same(await hook('open_session', 'alice'), { code: 0, stderr: [] }, 'open_session: refresh accepted');

  await presencePost(gh.baseUrl, '/heartbeat', { login: 'alice', hostname: 'pas-r01p01' });
  const busy = await hook('account', 'jmarchand');
  t.equal(busy.code, 1);
  t.same(JSON.parse(busy.stderr.at(-1)!), { message: 'Login forbidden: pas-r01p01 is busy', isError: true });

  await presencePost(gh.baseUrl, '/heartbeat', { login: 'alice', hostname: 'pas-r01p01' });
  t.same(await hook('close_session', 'alice'), { code: 0, stderr: [] }, 'close_session');
  t.equal(fs.readFileSync(pkillLog, 'utf8'), '-9 -u alice\n', "the user's processes are killed");
  t.equal((await getList(gh.baseUrl)).body, '{}', 'logout reached presencesync');
  t.equal(
    (await hook('close_session', 'alice', { GATEHOUSE_PAM_KILL_PROCESSES: '0' })).code,
    0,
    'a refused logout is not a PAM failure',
  );

  const down = await hook('account', 'alice', { GATEHOUSE_PRESENCE_URL: 'http://127.0.0.1:1/' });
  t.equal(down.code, 1, 'unreachable presencesync fails the login');
  t.match(JSON.parse(down.stderr.at(-1)!), {
    message: /^While checking the login with presencesync: cannot reach presencesync/,
    isError: true,
  });
});
