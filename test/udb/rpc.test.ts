import t from 'tap';
import { writeServerLock } from '../../src/cli/server-lock.js';
import { generateToken } from '../../src/sync/timeauth.js';
import { rawCall, rpcCall } from '../rpc/rpc-client.js';
import { cli, fileWith, SECRETS, startUdb } from './helpers.js';

const PUBLIC_KEYS = ['login', 'firstname', 'lastname', 'uid', 'group', 'shell', 'ssh_key', 'id'];
const PRIVATE_KEYS = ['login', 'firstname', 'lastname', 'uid', 'group', 'password', 'shell', 'ssh_key', 'id'];

type Row = Record<string, unknown>;

async function withUsers(t: Parameters<typeof startUdb>[0], overrides: Parameters<typeof startUdb>[1] = {}) {
  const gh = await startUdb(t, overrides);
  // CLI commands reach this server through the ops API, as with `gatehouse serve`.
  writeServerLock(gh.config.dataDir, { pid: process.pid, http: gh.app.http.addresses()[0]! });
  const data = gh.config.dataDir;
  const a = await cli([
    'udb',
    'batchimport',
    '--data',
    data,
    '--file',
    fileWith(t, 'f', 'Alain\tProviste\nJoseph\tMarchand\n'),
  ]);
  const o = await cli([
    'udb',
    'batchimport',
    '--data',
    data,
    '--logins',
    '--passwords',
    '--type=orga',
    '--file',
    fileWith(t, 'o', 'cana_p:orga\n'),
  ]);
  if (a.code !== 0 || o.code !== 0) throw new Error(`import failed: ${a.err.join('\n')} ${o.err.join('\n')}`);
  return gh;
}

t.test('scenario 52: query hides passwords, query_private shows them, ssh_key is refused', async (t) => {
  const gh = await withUsers(t);
  const q = await rpcCall(gh.baseUrl, 'udb', 'query', { kwargs: { login: 'aproviste' } });
  t.equal(q.status, 200);
  t.equal(q.contentType, 'application/json');
  const rows = q.body.data as Row[];
  t.equal(rows.length, 1);
  t.same(Object.keys(rows[0]!), PUBLIC_KEYS, 'keys in to_dict order, no password');
  t.match(rows[0], {
    login: 'aproviste',
    firstname: 'Alain',
    lastname: 'Proviste',
    uid: 10001,
    group: 'user',
    shell: '/bin/bash',
    ssh_key: null,
  });
  t.type(rows[0]!.id, 'number');
  t.match(q.text, /^\{"type": "result", "data": \[\{"login": "aproviste", /, 'Python separators');

  const p = await rpcCall(gh.baseUrl, 'udb', 'query_private', {
    kwargs: { login: 'aproviste' },
    secret: SECRETS.udbClientAuth,
  });
  t.equal(p.status, 200);
  const priv = (p.body.data as Row[])[0]!;
  t.same(Object.keys(priv), PRIVATE_KEYS);
  t.match(priv.password, /^[A-Za-z0-9]{8}$/);

  const bad = await rpcCall(gh.baseUrl, 'udb', 'query', { kwargs: { ssh_key: 'x' } });
  t.equal(bad.status, 500);
  t.same(bad.body, {
    type: 'exception',
    exn_type: 'ValueError',
    exn_message: "'ssh_key' is not a valid query argument",
    exn_traceback: [],
  });
  for (const key of ['password', 'firstname', 'realname']) {
    const r = await rpcCall(gh.baseUrl, 'udb', 'query', { kwargs: { [key]: 'x' } });
    t.equal(r.body.exn_type, 'ValueError', key);
    t.equal(r.body.exn_message, `'${key}' is not a valid query argument`);
  }
});

t.test('query: ordering, filters and lookups', async (t) => {
  const gh = await withUsers(t);
  const logins = async (kwargs: Record<string, unknown>) => {
    const r = await rpcCall(gh.baseUrl, 'udb', 'query', { kwargs });
    t.equal(r.status, 200, JSON.stringify(kwargs) + r.text);
    return (r.body.data as Row[]).map((u) => u.login);
  };
  t.same(await logins({}), ['cana_p', 'aproviste', 'jmarchand'], 'group (orga < user), then login');
  t.same(await logins({ login: 'aproviste', group: 'user' }), ['aproviste']);
  t.same(await logins({ login: 'aproviste', group: 'orga' }), []);
  t.same(await logins({ group: 'user' }), ['aproviste', 'jmarchand']);
  t.same(await logins({ uid: '10002' }), ['jmarchand'], 'integer fields take strings');
  t.same(await logins({ uid__gte: 11000 }), ['cana_p']);
  t.same(await logins({ login__startswith: 'a' }), ['aproviste']);
  t.same(await logins({ login__in: ['cana_p', 'jmarchand', 'zzz'] }), ['cana_p', 'jmarchand']);
  t.same(await logins({ login__regex: '^[cj]' }), ['cana_p', 'jmarchand']);
  t.same(await logins({ shell: '/bin/bash', group__iexact: 'USER' }), ['aproviste', 'jmarchand']);
  const get = await rawCall(gh.baseUrl, 'udb', '/call/query?login=aproviste', 'GET');
  t.equal((get.body.data as Row[]).length, 3, 'query string ignored, like the original');
});

t.test('bad RPC input gets the original errors and changes nothing', async (t) => {
  const gh = await withUsers(t);
  const cases: Array<[string, string | undefined, number, string, RegExp | string]> = [
    [
      '/call/query',
      '{"args": [1], "kwargs": {}}',
      500,
      'TypeError',
      'query() takes 1 positional argument but 2 were given',
    ],
    ['/call/query', '{not json', 500, 'JSONDecodeError', /./],
    ['/call/query', '[1, 2]', 500, 'TypeError', /JSON object/],
    ['/call/query', '{"kwargs": [1]}', 500, 'TypeError', /must be a mapping, not list/],
    ['/call/query', '{"kwargs": {"uid": "ten"}}', 500, 'ValueError', /expected a number but got 'ten'/],
    ['/call/query', '{"kwargs": {"login__nope": "x"}}', 500, 'FieldError', /Unsupported lookup 'nope'/],
    ['/call/query', '{"kwargs": {"login__regex": "(a+)+$"}}', 500, 'DataError', /nested quantifiers/],
    ['/call/nosuch', '{}', 404, 'MethodError', 'nosuch'],
    ['/call/query_private', '{"args": [], "kwargs": {}}', 400, 'MissingToken', 'query_private'],
    ['/call/query_private', '{"hmac": ""}', 400, 'MissingToken', 'query_private'],
    ['/call/query_private', '{"hmac": 12}', 403, 'BadToken', 'query_private'],
    ['/call/query_private', '{"hmac": "garbage"}', 403, 'BadToken', 'query_private'],
  ];
  for (const [path, body, status, exnType, message] of cases) {
    const r = await rawCall(gh.baseUrl, 'udb', path, 'POST', body);
    t.equal(r.status, status, `${path} ${body}`);
    t.equal(r.body.exn_type, exnType, `${path} ${body}`);
    if (typeof message === 'string') t.equal(r.body.exn_message, message);
    else t.match(r.body.exn_message, message);
  }
  const after = await rpcCall(gh.baseUrl, 'udb', 'query');
  t.equal((after.body.data as Row[]).length, 3);
});

t.test('scenarios 3, 4, 5: query_private tokens against the real clock', async (t) => {
  const gh = await withUsers(t);
  const missing = await rpcCall(gh.baseUrl, 'udb', 'query_private');
  t.equal(missing.status, 400);
  t.same(missing.body, {
    type: 'exception',
    exn_type: 'MissingToken',
    exn_message: 'query_private',
    exn_traceback: [],
  });

  const wrong = await rpcCall(gh.baseUrl, 'udb', 'query_private', { secret: 'not-UDBAUTH' });
  t.equal(wrong.status, 403);
  t.equal(wrong.body.exn_type, 'BadToken');
  t.equal(wrong.body.exn_message, 'query_private');

  const pubSigned = await rpcCall(gh.baseUrl, 'udb', 'query_private', { secret: SECRETS.udbsyncPub });
  t.equal(pubSigned.status, 403, 'another feature secret is not the UDB auth secret');

  const now = Math.floor(Date.now() / 1000);
  const old = await rpcCall(gh.baseUrl, 'udb', 'query_private', {
    secret: SECRETS.udbClientAuth,
    ts: now - 121,
  });
  t.equal(old.status, 403, '121 s old');
  t.equal(old.body.exn_type, 'BadToken');
  const recent = await rpcCall(gh.baseUrl, 'udb', 'query_private', {
    secret: SECRETS.udbClientAuth,
    ts: now - 110,
  });
  t.equal(recent.status, 200, '110 s old');
  const users = recent.body.data as Row[];
  t.equal(users.length, 3);
  t.ok(
    users.every((u) => typeof u.password === 'string' && (u.password as string).length > 0),
    'passwords included',
  );

  const otherMethod = await rpcCall(gh.baseUrl, 'udb', 'query_private', {
    hmac: generateToken(SECRETS.udbClientAuth, 'query'),
  });
  t.equal(otherMethod.status, 403, 'a token signs the method name');

  const pub = await rpcCall(gh.baseUrl, 'udb', 'query', { hmac: 'anything' });
  t.equal(pub.status, 200, 'query is public whatever the token');
});

t.test('scenario 7: timeauth.enabled=false accepts any token but still wants one', async (t) => {
  const gh = await withUsers(t, { timeauth: { enabled: false } });
  const any = await rpcCall(gh.baseUrl, 'udb', 'query_private', { hmac: 'x' });
  t.equal(any.status, 200);
  t.equal((any.body.data as Row[]).length, 3);
  const none = await rpcCall(gh.baseUrl, 'udb', 'query_private');
  t.equal(none.status, 400);
  t.equal(none.body.exn_type, 'MissingToken');
});

t.test('the udb host serves metrics and 404 elsewhere', async (t) => {
  const gh = await startUdb(t);
  const m = await rawCall(gh.baseUrl, 'udb', '/metrics', 'GET');
  t.equal(m.status, 200);
  t.match(m.text, /gatehouse_/);
  t.equal(
    (await rawCall(gh.baseUrl, 'udb', '/call/query/', 'GET')).status,
    404,
    'trailing slash is not an RPC call',
  );
  t.equal((await rawCall(gh.baseUrl, 'udb', '/', 'GET')).status, 303, 'the root is the admin pages: sent to sign in');
  t.match((await rawCall(gh.baseUrl, 'udb', '/_auth/login', 'GET')).text, /Sign in to UDB/);
  t.equal(
    (await rawCall(gh.baseUrl, 'udb.prolo:80', '/call/query', 'GET')).status,
    200,
    'name.domain:port routes too',
  );
});
