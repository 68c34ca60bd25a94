import t from 'tap';
import { request } from 'undici';
import { writeServerLock } from '../../src/cli/server-lock.js';
import { rpcCall } from '../rpc/rpc-client.js';
import { openPoll, pollQuery, postUpdate } from '../sync/poll-client.js';
import { cli, fileWith, SECRETS, startUdb } from './helpers.js';

type Update = { type: string; data: Record<string, unknown> };

async function imported(t: Parameters<typeof startUdb>[0]) {
  const gh = await startUdb(t);
  writeServerLock(gh.config.dataDir, { pid: process.pid, http: gh.app.http.addresses()[0]! });
  const r = await cli([
    'udb',
    'batchimport',
    '--data',
    gh.config.dataDir,
    '--file',
    fileWith(t, 'f', 'Joseph\tMarchand\nAlain\tProviste\n'),
  ]);
  if (r.code !== 0) throw new Error(r.err.join('\n'));
  const o = await cli([
    'udb',
    'batchimport',
    '--data',
    gh.config.dataDir,
    '--logins',
    '--type=root',
    '--file',
    fileWith(t, 'r', 'root_gw\n'),
  ]);
  if (o.code !== 0) throw new Error(o.err.join('\n'));
  return gh;
}

async function adminDelete(baseUrl: string, login: string) {
  const res = await request(`${baseUrl}/api/v1/users/${login}`, {
    method: 'DELETE',
    headers: { authorization: 'Bearer demo-admin-token' },
  });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

t.test(
  'scenario 54: the first line is every user with passwords; a delete carries the full record',
  async (t) => {
    const gh = await imported(t);
    const poll = await openPoll(gh.baseUrl, 'udbsync', pollQuery(SECRETS.udbsyncSub));
    t.teardown(() => poll.close());
    t.equal(poll.status, 200);
    const first = JSON.parse(await poll.next()) as Update[];
    const priv = await rpcCall(gh.baseUrl, 'udb', 'query_private', { secret: SECRETS.udbClientAuth });
    const byLogin = (list: Update[]) =>
      [...list].sort((a, b) => String(a.data.login).localeCompare(String(b.data.login)));
    t.same(
      byLogin(first),
      byLogin((priv.body.data as Record<string, unknown>[]).map((data) => ({ type: 'update', data }))),
      'snapshot = every query_private() record, as updates',
    );
    // Like the original's backlog dict: records in the order they reached the feed.
    t.same(
      first.map((u) => u.data.login),
      ['jmarchand', 'aproviste', 'root_gw'],
    );
    t.ok(first.every((u) => typeof u.data.password === 'string'));

    const jm = first.find((u) => u.data.login === 'jmarchand')!.data;
    const del = await adminDelete(gh.baseUrl, 'jmarchand');
    t.equal(del.status, 200);
    const line = await poll.next(1000);
    t.same(JSON.parse(line), [{ type: 'delete', data: jm }], 'delete with the full record');
    t.match(line, /^\[\{"type": "delete", "data": \{"login": "jmarchand", /);
  },
);

t.test('scenario 53: usermod reaches a connected subscriber within 1 s', async (t) => {
  const gh = await imported(t);
  const poll = await openPoll(gh.baseUrl, 'udbsync', pollQuery(SECRETS.udbsyncSub));
  t.teardown(() => poll.close());
  await poll.next();
  const started = Date.now();
  const r = await cli(['udb', 'usermod', 'aproviste', '--data', gh.config.dataDir, '--password', 'NewPass9']);
  t.equal(r.code, 0, r.err.join('\n'));
  t.same(r.out, ['Changed password of aproviste to NewPass9']);
  const msg = JSON.parse(await poll.next(1000)) as Update[];
  t.ok(Date.now() - started < 1000, 'within a second');
  t.equal(msg.length, 1);
  t.equal(msg[0]!.type, 'update');
  t.match(msg[0]!.data, { login: 'aproviste', password: 'NewPass9', uid: 10002, group: 'user' });
});

t.test('a batchimport through the server is one message per transaction batch, in order', async (t) => {
  const gh = await imported(t);
  const poll = await openPoll(gh.baseUrl, 'udbsync', pollQuery(SECRETS.udbsyncSub));
  t.teardown(() => poll.close());
  await poll.next();
  const names = Array.from(
    { length: 1200 },
    (_, i) => `Pers${String.fromCharCode(97 + (i % 26))}\tNom${i}`,
  ).join('\n');
  const r = await cli([
    'udb',
    'batchimport',
    '--data',
    gh.config.dataDir,
    '--file',
    fileWith(t, 'many', names),
  ]);
  t.equal(r.code, 0, r.err.join('\n'));
  t.equal(r.out.length, 1200);
  t.match(
    r.err.join('\n'),
    /batchimport: 500\/1200[\s\S]*batchimport: 1200\/1200 \(100%\)/,
    'progress per batch',
  );
  const sizes = [];
  for (let i = 0; i < 3; i++) sizes.push((JSON.parse(await poll.next(2000)) as Update[]).length);
  t.same(sizes, [500, 500, 200], 'default batches of 500');
  t.ok(await poll.quiet(200), 'nothing else');
});

t.test('external /update: applied to the backlog and broadcast, never written to the store', async (t) => {
  const gh = await imported(t);
  const poll = await openPoll(gh.baseUrl, 'udbsync', pollQuery(SECRETS.udbsyncSub));
  t.teardown(() => poll.close());
  await poll.next();
  const data = JSON.stringify([
    { type: 'update', data: { login: 'ext_user', uid: 19999, group: 'user', password: 'x' } },
    { type: 'delete', data: { login: 'never_there' } },
  ]);
  const res = await postUpdate(gh.baseUrl, 'udbsync', data, SECRETS.udbsyncPub);
  t.equal(res.status, 200);
  t.same(JSON.parse(await poll.next(1000)), JSON.parse(data), 'received list unchanged');
  const late = await openPoll(gh.baseUrl, 'udbsync', pollQuery(SECRETS.udbsyncSub));
  t.teardown(() => late.close());
  const snap = JSON.parse(await late.next()) as Update[];
  t.ok(
    snap.some((u) => u.data.login === 'ext_user'),
    'a new subscriber sees it',
  );
  const q = await rpcCall(gh.baseUrl, 'udb', 'query', { kwargs: { login: 'ext_user' } });
  t.same(q.body.data, [], 'not in UDB');

  t.equal((await postUpdate(gh.baseUrl, 'udbsync', data, SECRETS.udbsyncSub)).status, 403, 'signed with SUB');
  t.equal((await postUpdate(gh.baseUrl, 'udbsync', data, SECRETS.udbsyncPub, 'GET')).status, 405);
  t.equal((await postUpdate(gh.baseUrl, 'udbsync', '{"not": "a list"}', SECRETS.udbsyncPub)).status, 500);
  t.equal(
    (await postUpdate(gh.baseUrl, 'udbsync', '[{"type": "update", "data": {}}]', SECRETS.udbsyncPub)).status,
    500,
    'no login',
  );
  t.ok(await poll.quiet(200), 'refused updates broadcast nothing');
});

t.test('poll: bad tokens get 403 at once, missing data 400, ping answers', async (t) => {
  const gh = await startUdb(t);
  const pub = await openPoll(gh.baseUrl, 'udbsync', pollQuery(SECRETS.udbsyncPub));
  t.equal(pub.status, 403);
  t.equal(await pub.text(), 'Invalid token');
  await pub.close();
  const noData = await openPoll(gh.baseUrl, 'udbsync', `?hmac=x`);
  t.equal(noData.status, 400);
  await noData.close();
  const ping = await request(`${gh.baseUrl}/__ping`, { headers: { host: 'udbsync' } });
  t.equal(await ping.body.text(), 'pong');
  const empty = await openPoll(gh.baseUrl, 'udbsync', pollQuery(SECRETS.udbsyncSub));
  t.teardown(() => empty.close());
  t.equal(await empty.next(), '[]', 'empty UDB: the snapshot is []');
});

t.test('resume extension: ?since= replays only the users changes after it', async (t) => {
  const gh = await imported(t);
  const first = await openPoll(gh.baseUrl, 'udbsync', pollQuery(SECRETS.udbsyncSub));
  const seq = Number(first.headers['x-gatehouse-seq']);
  await first.close();
  t.ok(seq > 0);
  await cli(['udb', 'usermod', 'root_gw', '--data', gh.config.dataDir, '--password', 'Again7x']);
  const resumed = await openPoll(gh.baseUrl, 'udbsync', pollQuery(SECRETS.udbsyncSub, `&since=${seq}`));
  t.teardown(() => resumed.close());
  t.equal(resumed.headers['x-gatehouse-resumed'], 'true');
  const line = JSON.parse(await resumed.next()) as Update[];
  t.match(line, [{ type: 'update', data: { login: 'root_gw', password: 'Again7x' } }]);
});

t.test('after a restart the backlog starts in query_private order (group, then login)', async (t) => {
  const gh = await imported(t);
  const dataDir = gh.config.dataDir;
  await gh.app.stop();
  const again = await startUdb(t, { dataDir });
  const poll = await openPoll(again.baseUrl, 'udbsync', pollQuery(SECRETS.udbsyncSub));
  t.teardown(() => poll.close());
  const first = JSON.parse(await poll.next()) as Update[];
  t.same(
    first.map((u) => u.data.login),
    ['root_gw', 'aproviste', 'jmarchand'],
  );
});
