import t from 'tap';
import { request } from 'undici';
import { openPoll, pollQuery } from '../sync/poll-client.js';
import { SECRETS, startUdb } from './helpers.js';

const AUTH = { authorization: 'Bearer demo-admin-token', 'content-type': 'application/json' };

// biome-ignore lint/suspicious/noExplicitAny: responses are arbitrary JSON the assertions walk into
type Json = Record<string, any>;

async function api(baseUrl: string, method: string, path: string, body?: unknown, raw?: string) {
  const res = await request(`${baseUrl}${path}`, {
    method: method as 'GET',
    headers: AUTH,
    ...(raw !== undefined ? { body: raw } : body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.body.text();
  return { status: res.statusCode, body: JSON.parse(text) as Json };
}

t.test('users CRUD: uid allocated, read-only fields refused, changes broadcast', async (t) => {
  const gh = await startUdb(t);
  const poll = await openPoll(gh.baseUrl, 'udbsync', pollQuery(SECRETS.udbsyncSub));
  t.teardown(() => poll.close());
  t.equal(await poll.next(), '[]');

  const c = await api(gh.baseUrl, 'POST', '/api/v1/users', {
    login: 'nathalie',
    firstname: 'Nathalie',
    lastname: 'N',
    group: 'root',
  });
  t.equal(c.status, 201, JSON.stringify(c.body));
  t.match(c.body, { login: 'nathalie', uid: 12001, group: 'root', shell: '/bin/bash', ssh_key: null, id: 1 });
  t.match(c.body.password, /^[A-Za-z0-9]{8}$/, 'a password is generated when none is given');
  t.match(JSON.parse(await poll.next(1000)), [{ type: 'update', data: { login: 'nathalie' } }]);

  const withUid = await api(gh.baseUrl, 'POST', '/api/v1/users', {
    login: 'x',
    firstname: 'a',
    lastname: 'b',
    group: 'user',
    uid: 5,
  });
  t.equal(withUid.status, 400);
  t.match(withUid.body, { code: 'GH_VALIDATION', fields: { uid: ['This field is read-only.'] } });

  const p = await api(gh.baseUrl, 'PATCH', '/api/v1/users/nathalie', {
    password: 'Chosen9x',
    ssh_key: 'ssh-ed25519 AAAA n@x',
  });
  t.equal(p.status, 200);
  t.match(p.body, { password: 'Chosen9x', ssh_key: 'ssh-ed25519 AAAA n@x', uid: 12001 });
  t.match(JSON.parse(await poll.next(1000)), [
    { type: 'update', data: { login: 'nathalie', password: 'Chosen9x' } },
  ]);

  for (const [field, value] of [
    ['login', 'other'],
    ['uid', 1],
    ['id', 99],
  ] as const) {
    const r = await api(gh.baseUrl, 'PATCH', '/api/v1/users/nathalie', { [field]: value });
    t.equal(r.status, 400, field);
    t.match(r.body.fields, { [field]: ['This field is read-only.'] });
  }
  const same = await api(gh.baseUrl, 'PATCH', '/api/v1/users/nathalie', { ...p.body, firstname: 'Nat' });
  t.equal(same.status, 200, 'sending the record back with unchanged read-only fields is fine');
  t.match(JSON.parse(await poll.next(1000)), [{ type: 'update', data: { firstname: 'Nat' } }]);
  t.ok(await poll.quiet(100), 'refused edits broadcast nothing');

  const g = await api(gh.baseUrl, 'GET', '/api/v1/users/nathalie');
  t.equal(g.body.firstname, 'Nat');
  const list = await api(gh.baseUrl, 'GET', '/api/v1/users?group=root');
  t.equal(list.body.count, 1);
  const badFilter = await api(gh.baseUrl, 'GET', '/api/v1/users?ssh_key=x');
  t.equal(badFilter.status, 400);
  t.match(badFilter.body.error, /'ssh_key' is not a valid query argument/);

  const d = await api(gh.baseUrl, 'DELETE', '/api/v1/users/nathalie');
  t.equal(d.status, 200);
  t.match(JSON.parse(await poll.next(1000)), [
    { type: 'delete', data: { login: 'nathalie', firstname: 'Nat' } },
  ]);
  t.equal((await api(gh.baseUrl, 'GET', '/api/v1/users/nathalie')).status, 404);
  t.equal((await api(gh.baseUrl, 'DELETE', '/api/v1/users/nathalie')).status, 404);

  const again = await api(gh.baseUrl, 'POST', '/api/v1/users', {
    login: 'nathalie',
    firstname: 'N',
    lastname: 'N',
    group: 'root',
    password: 'p',
  });
  t.equal(again.body.uid, 12002, 'uids are never reused');
  t.equal(again.body.id, 2, 'ids are never reused');
});

t.test('bad admin input: clear 4xx, nothing written', async (t) => {
  const gh = await startUdb(t);
  const cases: Array<[string, string, unknown, string | undefined, number, RegExp]> = [
    ['POST', '/api/v1/users', undefined, '{oops', 400, /not valid UTF-8 JSON/],
    ['POST', '/api/v1/users', undefined, '[]', 400, /JSON object/],
    [
      'POST',
      '/api/v1/users',
      { login: 'Bad Login', firstname: 'a', lastname: 'b', group: 'user' },
      undefined,
      400,
      /login: "Bad Login" is not a valid login/,
    ],
    [
      'POST',
      '/api/v1/users',
      { login: 'root', firstname: 'a', lastname: 'b', group: 'root' },
      undefined,
      400,
      /Username root is/,
    ],
    [
      'POST',
      '/api/v1/users',
      { login: 'ok', firstname: 5, lastname: 'b', group: 'user' },
      undefined,
      400,
      /firstname: must be a string/,
    ],
    [
      'POST',
      '/api/v1/users',
      { login: 'ok', lastname: 'b', group: 'user' },
      undefined,
      400,
      /firstname: is required/,
    ],
    [
      'POST',
      '/api/v1/users',
      { login: 'ok', firstname: 'a', lastname: 'b', group: 'admin' },
      undefined,
      400,
      /group: must be one of user, orga, root/,
    ],
    [
      'POST',
      '/api/v1/users',
      { login: 'ok', firstname: 'a', lastname: 'b', group: 'user', ssh_key: 'k'.repeat(4097) },
      undefined,
      400,
      /ssh_key: must be at most 4096/,
    ],
    [
      'POST',
      '/api/v1/users',
      { login: 'ok', firstname: 'a', lastname: 'b', group: 'user', colour: 'red' },
      undefined,
      400,
      /unknown field\(s\) "colour"/,
    ],
    ['PATCH', '/api/v1/users/ghost', { firstname: 'x' }, undefined, 404, /no user with login ghost/],
    ['PATCH', '/api/v1/uid-pools/user', { base: 11000 }, undefined, 400, /already the base of the orga pool/],
    ['PATCH', '/api/v1/uid-pools/user', { last: -1 }, undefined, 400, /non-negative integer/],
    ['PATCH', '/api/v1/uid-pools/nope', { last: 1 }, undefined, 404, /no UID pool for group nope/],
  ];
  for (const [method, path, body, raw, status, why] of cases) {
    const r = await api(gh.baseUrl, method, path, body, raw);
    t.equal(r.status, status, `${method} ${path} ${raw ?? JSON.stringify(body)}`);
    t.match(r.body.error, why);
  }
  t.equal((await api(gh.baseUrl, 'GET', '/api/v1/users')).body.count, 0);
  const pools = await api(gh.baseUrl, 'GET', '/api/v1/uid-pools');
  t.same(pools.body.items, [
    { group: 'orga', base: 11000, last: 0 },
    { group: 'root', base: 12000, last: 0 },
    { group: 'user', base: 10000, last: 0 },
  ]);
  const noAuth = await request(`${gh.baseUrl}/api/v1/users`);
  t.equal(noAuth.statusCode, 401);
  await noAuth.body.dump();
});

t.test('uid pools: raising last reserves a range; a taken uid is refused without side effects', async (t) => {
  const gh = await startUdb(t);
  t.equal((await api(gh.baseUrl, 'PATCH', '/api/v1/uid-pools/user', { last: 100 })).status, 200);
  const u = await api(gh.baseUrl, 'POST', '/api/v1/users', {
    login: 'a',
    firstname: 'a',
    lastname: 'a',
    group: 'user',
    password: 'p',
  });
  t.equal(u.body.uid, 10101);
  await api(gh.baseUrl, 'PATCH', '/api/v1/uid-pools/user', { last: 100 });
  const clash = await api(gh.baseUrl, 'POST', '/api/v1/users', {
    login: 'b',
    firstname: 'b',
    lastname: 'b',
    group: 'user',
    password: 'p',
  });
  t.equal(clash.status, 409);
  t.match(clash.body, { code: 'GH_UDB_UID_TAKEN', error: /uid 10101 .* already used by a/ });
  t.equal((await api(gh.baseUrl, 'GET', '/api/v1/uid-pools/user')).body.last, 100, 'counter unchanged');
  t.equal((await api(gh.baseUrl, 'GET', '/api/v1/users')).body.count, 1);
});

t.test('demo seed: the test users of the setup guide, once', async (t) => {
  const gh = await startUdb(t, { demo: { seed: true } });
  const list = await api(gh.baseUrl, 'GET', '/api/v1/users');
  const users = list.body.items as Array<Record<string, unknown>>;
  t.same(
    users.map((u) => [u.login, u.group, u.uid]),
    [
      ['cana_p', 'orga', 11001],
      ['login_x', 'orga', 11002],
      ['nathalie', 'root', 12002],
      ['root_gw', 'root', 12001],
      ['aproviste', 'user', 10001],
      ['jmarchand', 'user', 10002],
    ],
  );
  t.match(
    users.find((u) => u.login === 'cana_p'),
    { firstname: 'Cana_P', password: 'orga' },
  );
  t.match(
    users.find((u) => u.login === 'aproviste'),
    { firstname: 'Alain', lastname: 'Proviste' },
  );
  for (const u of users) await api(gh.baseUrl, 'DELETE', `/api/v1/users/${u.login}`);
  const dataDir = gh.config.dataDir;
  await gh.app.stop();
  const again = await startUdb(t, { dataDir, demo: { seed: true } });
  t.equal(
    (await api(again.baseUrl, 'GET', '/api/v1/users')).body.count,
    0,
    'not re-seeded after deliberate deletion',
  );
});
