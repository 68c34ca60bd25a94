import t from 'tap';
import { startGatehouse } from '../helpers/gatehouse.js';
import {
  del,
  embargoOver,
  getList,
  httpRequest,
  openPoll,
  PUB,
  presencePost,
  SUB,
  startPresence,
  upd,
} from './helpers.js';

const TIMEOUT = 2;

const start = (t: Parameters<typeof startPresence>[0]) => startPresence(t, TIMEOUT);

t.test('scenarios 55-59, 62, 64: login arbitration, get_list, logout, tokens', async (t) => {
  const { gh, presence } = await start(t);
  const base = gh.baseUrl;
  const poll = await openPoll(base);
  t.teardown(() => poll.close());
  t.same(await poll.next(), [], 'empty snapshot');

  // 55: within TIMEOUT of start
  const early = await presencePost(base, '/login', { login: 'aproviste', hostname: 'pas-r01p01' });
  t.equal(early.status, 423);
  t.equal(early.reason, 'Login refused');
  t.equal(early.body, 'Too early login: try again later');

  // 56: after TIMEOUT
  await embargoOver(presence);
  const ok = await presencePost(base, '/login', { login: 'aproviste', hostname: 'pas-r01p01' });
  t.equal(ok.status, 200);
  t.equal(ok.body, '');
  t.same(await poll.next(), [upd('aproviste', 'pas-r01p01')], 'subscribers receive the update');
  const list = await getList(base);
  t.equal(list.status, 200);
  t.equal(list.body, '{"aproviste": "pas-r01p01"}', 'Python json.dumps form');

  // 57
  const elsewhere = await presencePost(base, '/login', { login: 'aproviste', hostname: 'pas-r01p02' });
  t.same([elsewhere.status, elsewhere.body], [423, 'aproviste is already logged somewhere else']);
  const busy = await presencePost(base, '/login', { login: 'jmarchand', hostname: 'pas-r01p01' });
  t.same([busy.status, busy.body], [423, 'pas-r01p01 is busy']);
  const refresh = await presencePost(base, '/login', { login: 'aproviste', hostname: 'pas-r01p01' });
  t.equal(refresh.status, 200, 'refresh accepted');

  // 58
  const svc = await presencePost(base, '/login', { login: 'jmarchand', hostname: 'srv01' });
  t.same([svc.status, svc.body], [423, 'jmarchand is not a kind of user that is allowed to log on srv01']);
  const orgaHost = await presencePost(base, '/login', { login: 'jmarchand', hostname: 'orga01' });
  t.same(
    [orgaHost.status, orgaHost.body],
    [423, 'jmarchand is not a kind of user that is allowed to log on orga01'],
  );
  const orga = await presencePost(base, '/login', { login: 'cana_p', hostname: 'pas-r01p02' });
  t.equal(orga.status, 200, 'organizer on a user machine');
  // the refresh above produced no message: the next one is cana_p's
  t.same(await poll.next(), [upd('cana_p', 'pas-r01p02')]);

  // 59
  const noHost = await presencePost(base, '/login', { login: 'jmarchand', hostname: 'pas-r09p99' });
  t.same([noHost.status, noHost.body], [423, 'pas-r09p99 is not a registered machine']);
  const noUser = await presencePost(base, '/login', { login: 'nobody', hostname: 'pas-r01p03' });
  t.same([noUser.status, noUser.body], [423, 'nobody is not a registered user']);

  // 62
  const wrong = await presencePost(base, '/logout', { login: 'aproviste', hostname: 'pas-r01p02' });
  t.same(
    [wrong.status, wrong.reason, wrong.body],
    [500, 'Logout failed', 'Requested logout from the wrong hostname'],
  );
  const notIn = await presencePost(base, '/logout', { login: 'jmarchand', hostname: 'pas-r01p03' });
  t.same([notIn.status, notIn.body], [500, 'Requested logout but not logged in']);
  const out = await presencePost(base, '/logout', { login: 'aproviste', hostname: 'pas-r01p01' });
  t.equal(out.status, 200);
  t.same(await poll.next(), [del('aproviste')], 'delete message');
  t.equal((await getList(base)).body, '{"cana_p": "pas-r01p02"}');

  // 64: every POST signed with SUB is refused; /update does not exist
  for (const path of ['/login', '/logout', '/heartbeat', '/remove_expired']) {
    const r = await presencePost(base, path, { login: 'jmarchand', hostname: 'pas-r01p03' }, SUB);
    t.same([r.status, r.reason, r.body], [403, 'Invalid token', 'Invalid token'], `${path} with SUB`);
  }
  const badList = await getList(base, PUB);
  t.same([badList.status, badList.body], [403, 'Invalid token'], 'get_list signed with PUB');
  const update = await presencePost(base, '/update', [upd('jmarchand', 'pas-r01p03')]);
  t.equal(update.status, 404, '/update is not served');
  t.equal((await getList(base)).body, '{"cana_p": "pas-r01p02"}', 'nothing changed');

  // metric with the exact original name and labels
  const metrics = await gh.app.metrics.text();
  t.match(metrics, /presencesync_login_failed\{reason="too_early",user="aproviste"\} 1/);
  t.match(
    metrics,
    /presencesync_login_failed\{reason="already_logged",user="aproviste"\} 2/,
    'refusal + accepted refresh',
  );
  t.match(metrics, /presencesync_login_failed\{reason="busy",user="jmarchand"\} 1/);
  t.match(metrics, /presencesync_login_failed\{reason="user_not_allowed",user="jmarchand"\} 2/);
  t.match(metrics, /presencesync_login_failed\{reason="machine_not_registered",user="jmarchand"\} 1/);
  t.match(metrics, /presencesync_login_failed\{reason="user_not_registered",user="nobody"\} 1/);
});

t.test('protocol details: missing arguments, methods, bad data, ping, Tornado cleaning', async (t) => {
  const { gh } = await start(t);
  const base = gh.baseUrl;
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const noHmac = await httpRequest(base, {
    method: 'POST',
    path: '/heartbeat',
    host: 'presencesync',
    body: 'data=%7B%7D',
    headers: form,
  });
  t.equal(noHmac.status, 400, 'missing hmac');
  const noData = await httpRequest(base, {
    method: 'POST',
    path: '/heartbeat',
    host: 'presencesync',
    body: 'hmac=1:ab',
    headers: form,
  });
  t.equal(noData.status, 400, 'missing data');
  const getLogin = await httpRequest(base, { path: '/login', host: 'presencesync' });
  t.equal(getLogin.status, 405, 'GET /login');
  const postList = await httpRequest(base, {
    method: 'POST',
    path: '/get_list',
    host: 'presencesync',
    body: '',
    headers: form,
  });
  t.equal(postList.status, 405, 'POST /get_list');
  const ping = await httpRequest(base, { path: '/__ping', host: 'presencesync' });
  t.same([ping.status, ping.body], [200, 'pong']);
  for (const bad of ['not json', '[1, 2]', '{"login": "a"}', '{"login": 1, "hostname": "b"}']) {
    const { generateToken } = await import('../../src/sync/timeauth.js');
    const body = new URLSearchParams({ data: bad, hmac: generateToken(PUB, bad) }).toString();
    const r = await httpRequest(base, {
      method: 'POST',
      path: '/heartbeat',
      host: 'presencesync',
      body,
      headers: form,
    });
    t.equal(r.status, 500, `heartbeat with data ${bad}`);
  }
  // Tornado strips surrounding whitespace and control characters before the HMAC check
  const { generateToken } = await import('../../src/sync/timeauth.js');
  const data = '{"login": "aproviste", "hostname": "pas-r01p01"}';
  const body = new URLSearchParams({
    data: `\x01 ${data} \n`,
    hmac: ` ${generateToken(PUB, data)}\t`,
  }).toString();
  const cleaned = await httpRequest(base, {
    method: 'POST',
    path: '/heartbeat',
    host: 'presencesync',
    body,
    headers: form,
  });
  t.equal(cleaned.status, 200, 'cleaned data verifies');
  t.equal((await getList(base)).body, '{"aproviste": "pas-r01p01"}');
  const poll = await httpRequest(base, { path: '/poll?data=%7B%7D&hmac=1:00', host: 'presencesync' });
  t.same([poll.status, poll.body], [403, 'Invalid token'], 'bad poll token answered at once');
});

t.test('timeauth disabled: unsigned requests accepted (the hmac field is still required)', async (t) => {
  const gh = await startGatehouse(t, { timeauth: { enabled: false }, presence: { timeout: TIMEOUT } });
  const form = { 'content-type': 'application/x-www-form-urlencoded' };
  const data = encodeURIComponent('{"login": "x", "hostname": "y"}');
  const r = await httpRequest(gh.baseUrl, {
    method: 'POST',
    path: '/heartbeat',
    host: 'presencesync',
    body: `data=${data}&hmac=`,
    headers: form,
  });
  t.equal(r.status, 200);
  t.equal((await getList(gh.baseUrl, 'whatever')).body, '{"x": "y"}');
});
