import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { PresenceService } from '../../src/presence/service.js';
import { startGatehouse } from '../helpers/gatehouse.js';
import { tempDir } from '../helpers/tmp.js';
import {
  del,
  embargoOver,
  getList,
  openPoll,
  PUB,
  presencePost,
  SUB,
  startPresence,
  upd,
} from './helpers.js';

// Real time, short TIMEOUT: the 30 s of production become 2 s, the 15 s heartbeat period 1 s.
const TIMEOUT = 2;
type Teardown = { teardown(fn: () => void | Promise<void>): void };

const start = (t: Teardown, dataDir?: string) => startPresence(t, TIMEOUT, dataDir);

t.test('scenario 60: without heartbeats a session disappears within TIMEOUT..1.5 TIMEOUT', async (t) => {
  const { gh, presence } = await start(t);
  const poll = await openPoll(gh.baseUrl);
  t.teardown(() => poll.close());
  t.same(await poll.next(), []);
  await embargoOver(presence);
  const loggedAt = Date.now();
  t.equal(
    (await presencePost(gh.baseUrl, '/login', { login: 'aproviste', hostname: 'pas-r01p01' })).status,
    200,
  );
  t.same(await poll.next(), [upd('aproviste', 'pas-r01p01')]);
  // Nobody asks anything: only the in-process expiry loop can announce the delete.
  t.same(await poll.next(TIMEOUT * 2000), [del('aproviste')]);
  const after = (Date.now() - loggedAt) / 1000;
  t.ok(after >= TIMEOUT - 0.05, `not before TIMEOUT (${after.toFixed(2)} s)`);
  t.ok(after <= TIMEOUT * 1.5 + 0.3, `at most TIMEOUT/2 late (${after.toFixed(2)} s)`);
  t.equal((await getList(gh.baseUrl)).body, '{}');
});

t.test('scenario 61: heartbeats every TIMEOUT/2 keep a session for several timeouts, silently', async (t) => {
  const { gh, presence } = await start(t);
  await embargoOver(presence);
  t.equal(
    (await presencePost(gh.baseUrl, '/login', { login: 'aproviste', hostname: 'pas-r01p01' })).status,
    200,
  );
  const poll = await openPoll(gh.baseUrl);
  t.teardown(() => poll.close());
  t.same(await poll.next(), [upd('aproviste', 'pas-r01p01')], 'snapshot');
  const until = Date.now() + TIMEOUT * 4 * 1000;
  while (Date.now() < until) {
    await sleep((TIMEOUT * 1000) / 2);
    const r = await presencePost(gh.baseUrl, '/heartbeat', { login: 'aproviste', hostname: 'pas-r01p01' });
    t.equal(r.status, 200);
  }
  // The next message is the sentinel's: nothing (no delete, no update) was sent in between.
  await presencePost(gh.baseUrl, '/heartbeat', { login: 'cana_p', hostname: 'pas-r01p02' });
  t.same(await poll.next(), [upd('cana_p', 'pas-r01p02')]);
  t.equal((await getList(gh.baseUrl)).body, '{"aproviste": "pas-r01p01", "cana_p": "pas-r01p02"}');
});

t.test(
  'scenario 63: after a stop longer than TIMEOUT heartbeats recreate sessions during the embargo',
  async (t) => {
    const dataDir = tempDir(t);
    const first = await start(t, dataDir);
    await embargoOver(first.presence);
    t.equal(
      (await presencePost(first.gh.baseUrl, '/login', { login: 'aproviste', hostname: 'pas-r01p01' })).status,
      200,
    );
    await first.gh.app.stop();
    // Down for longer than TIMEOUT + the restart grace (TIMEOUT/2): the saved session is stale.
    await sleep(TIMEOUT * 1500 + 300);

    const { gh } = await start(t, dataDir);
    const poll = await openPoll(gh.baseUrl);
    t.teardown(() => poll.close());
    t.same(await poll.next(), [], 'the saved session expired while Gatehouse was down');
    const hb = await presencePost(gh.baseUrl, '/heartbeat', { login: 'aproviste', hostname: 'pas-r01p01' });
    t.equal(hb.status, 200, 'heartbeat accepted during the embargo');
    t.same(await poll.next(), [upd('aproviste', 'pas-r01p01')], 'session recreated and broadcast');
    const login = await presencePost(gh.baseUrl, '/login', { login: 'jmarchand', hostname: 'pas-r01p02' });
    t.same([login.status, login.body], [423, 'Too early login: try again later'], 'logins still embargoed');
    // heartbeats bypass the rules too: a contestant on a service machine, a user unknown to UDB
    t.equal(
      (await presencePost(gh.baseUrl, '/heartbeat', { login: 'ghost', hostname: 'srv01' })).status,
      200,
    );
    t.same(await poll.next(), [upd('ghost', 'srv01')]);
  },
);

t.test(
  'a quick restart keeps sessions, busy machines and the feed, and arbitrates logins at once',
  async (t) => {
    const dataDir = tempDir(t);
    const first = await start(t, dataDir);
    await embargoOver(first.presence);
    const base1 = first.gh.baseUrl;
    t.equal(
      (await presencePost(base1, '/login', { login: 'aproviste', hostname: 'pas-r01p01' })).status,
      200,
    );
    // cana_p moves from pas-r01p02 to pas-r01p03 by heartbeat: pas-r01p02 stays busy (original quirk).
    t.equal(
      (await presencePost(base1, '/heartbeat', { login: 'cana_p', hostname: 'pas-r01p02' })).status,
      200,
    );
    t.equal(
      (await presencePost(base1, '/heartbeat', { login: 'cana_p', hostname: 'pas-r01p03' })).status,
      200,
    );
    const asks = [
      { login: 'jmarchand', hostname: 'pas-r01p01' },
      { login: 'aproviste', hostname: 'pas-r01p03' },
      { login: 'jmarchand', hostname: 'pas-r01p02' },
    ];
    const answers = async (base: string) => {
      const out = [];
      for (const a of asks) {
        const r = await presencePost(base, '/login', a);
        out.push([r.status, r.body]);
      }
      return out;
    };
    const before = await answers(base1);
    t.same(before, [
      [423, 'pas-r01p01 is busy'],
      [423, 'aproviste is already logged somewhere else'],
      [423, 'pas-r01p02 is busy'],
    ]);
    const listBefore = (await getList(base1)).body;
    const feedBefore = [...first.presence.sessions()];
    await first.gh.app.stop();

    const { gh, presence } = await start(t, dataDir);
    t.ok(presence.rules.embargoEndsAt <= Date.now() / 1000, 'no embargo after a quick restart');
    t.same(await answers(gh.baseUrl), before, 'the same answers right after the restart');
    t.equal((await getList(gh.baseUrl)).body, listBefore, 'get_list unchanged');
    t.same([...presence.sessions()], feedBefore, 'the feed view (firewall, SSO) unchanged');
    const poll = await openPoll(gh.baseUrl);
    t.teardown(() => poll.close());
    t.same(
      await poll.next(),
      [upd('aproviste', 'pas-r01p01'), upd('cana_p', 'pas-r01p03')],
      'a new subscriber gets the sessions',
    );
    // Without heartbeats the restored sessions still expire: within TIMEOUT (+ grace) of the restart.
    const gone: unknown[] = [];
    while (gone.length < 2) gone.push(...((await poll.next(TIMEOUT * 2000 + 1000)) as unknown[]));
    t.same(gone, [del('aproviste'), del('cana_p')]);
  },
);

t.test(
  'a new subscriber triggers expiry: existing subscribers get the delete, the newcomer a clean snapshot',
  async (t) => {
    // A service with a hand-driven clock (over real HTTP) so the expiry loop cannot win the race.
    const clock = { now: 1_000_000 };
    const gh = await startGatehouse(
      t,
      { secrets: { presencesyncPub: PUB, presencesyncSub: SUB }, presence: { enabled: false, timeout: 30 } },
      [
        (ctx) =>
          new PresenceService({
            ...ctx,
            config: { ...ctx.config, presence: { enabled: true, timeout: 30 } },
            now: () => clock.now,
          }),
      ],
    );
    await presencePost(gh.baseUrl, '/heartbeat', { login: 'aproviste', hostname: 'pas-r01p01' });
    const first = await openPoll(gh.baseUrl);
    t.teardown(() => first.close());
    t.same(await first.next(), [upd('aproviste', 'pas-r01p01')]);
    clock.now += 30;
    const second = await openPoll(gh.baseUrl);
    t.teardown(() => second.close());
    t.same(await second.next(), [], 'newcomer: nothing left');
    t.same(await first.next(), [del('aproviste')], 'existing subscriber: the delete');
  },
);
