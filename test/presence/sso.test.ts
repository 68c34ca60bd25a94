import http from 'node:http';
import t from 'tap';
import { machinesTable } from '../../src/mdb/model.js';
import { setSsoHeaders, ssoIdentity } from '../../src/presence/sso.js';
import { startGatehouse } from '../helpers/gatehouse.js';
import {
  FIXTURE_MACHINES,
  FIXTURE_USERS,
  httpRequest,
  machine,
  PUB,
  presencePost,
  SUB,
  seed,
} from './helpers.js';

type Teardown = { teardown(fn: () => void | Promise<void>): void };

async function start(t: Teardown, sso: Record<string, unknown> = {}) {
  const gh = await startGatehouse(t, {
    secrets: { presencesyncPub: PUB, presencesyncSub: SUB },
    presence: { timeout: 30 },
    sso,
  });
  await seed(gh.app.store, FIXTURE_MACHINES, FIXTURE_USERS);
  const ask = (ip?: string) =>
    httpRequest(gh.baseUrl, { path: '/', host: 'sso', headers: ip === undefined ? {} : { 'x-real-ip': ip } });
  return { gh, ask };
}

t.test('scenarios 66-68: the normative 204 contract', async (t) => {
  const { gh, ask } = await start(t);
  // heartbeats are trusted as-is, no embargo: a session at once
  t.equal(
    (await presencePost(gh.baseUrl, '/heartbeat', { login: 'aproviste', hostname: 'pas-r01p01' })).status,
    200,
  );

  const in66 = await ask('192.168.0.1');
  t.equal(in66.status, 204, '66: 2xx');
  t.equal(in66.headers['x-sso-status'], 'authenticated');
  t.equal(in66.headers['x-sso-user'], 'aproviste');
  t.equal(in66.body, '');

  const in67 = await ask('192.168.0.99');
  t.equal(in67.status, 204);
  t.equal(in67.headers['x-sso-status'], 'unknown IP 192.168.0.99', '67');
  t.notOk('x-sso-user' in in67.headers);

  const free = await ask('192.168.0.2');
  t.equal(free.status, 204);
  t.equal(free.headers['x-sso-status'], 'logged-out machine pas-r01p02', '68: free machine');
  t.notOk('x-sso-user' in free.headers);

  const missing = await ask();
  t.equal(missing.status, 204);
  t.equal(missing.headers['x-sso-status'], 'missing header X-Real-IP', '68: no header');

  // the answer follows the session: logout makes the machine logged-out at once
  t.equal(
    (await presencePost(gh.baseUrl, '/logout', { login: 'aproviste', hostname: 'pas-r01p01' })).status,
    200,
  );
  t.equal((await ask('192.168.0.1')).headers['x-sso-status'], 'logged-out machine pas-r01p01');

  // every method and path is an auth_request answer, never a denial
  const post = await httpRequest(gh.baseUrl, {
    method: 'POST',
    path: '/anything?x=1',
    host: 'sso',
    body: 'junk',
    headers: { 'x-real-ip': '192.168.0.1' },
  });
  t.equal(post.status, 204);
  // client-sent identity headers are ignored
  const spoof = await httpRequest(gh.baseUrl, {
    path: '/',
    host: 'sso',
    headers: { 'x-real-ip': '192.168.0.2', 'x-sso-user': 'root_gw' },
  });
  t.notOk('x-sso-user' in spoof.headers);
  t.match(await gh.app.metrics.text(), /gatehouse_sso_lookups_total\{outcome="authenticated"\} 1/);
});

t.test(
  'scenario 69: overrides authenticate without a session and win over presence; null tolerated',
  async (t) => {
    const { gh, ask } = await start(t, { overrides: { 'pas-r01p03': 'nathalie', 'pas-r01p01': 'cana_p' } });
    const o = await ask('192.168.0.3');
    t.same([o.headers['x-sso-status'], o.headers['x-sso-user']], ['authenticated', 'nathalie']);
    await presencePost(gh.baseUrl, '/heartbeat', { login: 'aproviste', hostname: 'pas-r01p01' });
    t.equal(
      (await ask('192.168.0.1')).headers['x-sso-user'],
      'cana_p',
      'override takes precedence over presence',
    );

    const nulls = await start(t, { overrides: null });
    t.equal((await nulls.ask('192.168.0.3')).headers['x-sso-status'], 'logged-out machine pas-r01p03');

    // SIGHUP-style reload applies new overrides
    await gh.app.reload({ ...gh.config, sso: { ...gh.config.sso, overrides: {} } });
    t.equal((await ask('192.168.0.3')).headers['x-sso-status'], 'logged-out machine pas-r01p03', 'reloaded');
  },
);

t.test('scenario 70: an MDB change alone updates the mapping', async (t) => {
  const { gh, ask } = await start(t);
  // a session on a machine MDB does not know yet (heartbeats are not checked)
  await presencePost(gh.baseUrl, '/heartbeat', { login: 'jmarchand', hostname: 'pas-r02p01' });
  t.equal((await ask('192.168.0.20')).headers['x-sso-status'], 'unknown IP 192.168.0.20');
  await seed(gh.app.store, [machine('pas-r02p01', '192.168.0.20', 'user', 20)]);
  const r = await ask('192.168.0.20');
  t.same(
    [r.headers['x-sso-status'], r.headers['x-sso-user']],
    ['authenticated', 'jmarchand'],
    'recognised immediately',
  );
  // IP change and deletion too
  const table = machinesTable(gh.app.store);
  await gh.app.store.write((tx) =>
    tx.put(table, 'pas-r02p01', { ...machine('pas-r02p01', '192.168.0.21', 'user', 20) }),
  );
  t.equal((await ask('192.168.0.20')).headers['x-sso-status'], 'unknown IP 192.168.0.20', 'old IP forgotten');
  t.equal((await ask('192.168.0.21')).headers['x-sso-user'], 'jmarchand', 'new IP mapped');
  await gh.app.store.write((tx) => tx.delete(table, 'pas-r02p01'));
  t.equal(
    (await ask('192.168.0.21')).headers['x-sso-status'],
    'unknown IP 192.168.0.21',
    'deleted machine forgotten',
  );
});

t.test('untrusted peers get the answer for their own address, whatever X-Real-IP says', async (t) => {
  const { gh } = await start(t, { trustedProxies: ['10.0.0.0/8'] });
  await seed(gh.app.store, [machine('localhost1', '127.0.0.1', 'service', 99)]);
  await presencePost(gh.baseUrl, '/heartbeat', { login: 'aproviste', hostname: 'pas-r01p01' });
  await presencePost(gh.baseUrl, '/heartbeat', { login: 'nathalie', hostname: 'localhost1' });
  const r = await httpRequest(gh.baseUrl, {
    path: '/',
    host: 'sso',
    headers: { 'x-real-ip': '192.168.0.1' },
  });
  t.same(
    [r.headers['x-sso-status'], r.headers['x-sso-user']],
    ['authenticated', 'nathalie'],
    'own identity, not 192.168.0.1',
  );
  t.match(await gh.app.metrics.text(), /gatehouse_sso_untrusted_peer_total 1/);
});

t.test('hostile X-Real-IP values are echoed safely', async (t) => {
  const { ask } = await start(t);
  const long = await ask('9'.repeat(5000));
  t.equal(long.status, 204);
  t.ok(String(long.headers['x-sso-status']).length < 200);
  const odd = await ask('\u00e9\u00ff 1.2.3.4');
  t.equal(odd.status, 204);
  t.match(String(odd.headers['x-sso-status']), /^invalid X-Real-IP \?\? 1\.2\.3\.4 \(/);
});

t.test('ssoIdentity + setSsoHeaders: identity from Gatehouse’s own lookup of the TCP peer', async (t) => {
  // A stand-in for the mdb admin pages, wired the way docs/presence.md tells the MDB vhost to:
  // a service factory keeps ctx.services (live: later services appear in it) for request time.
  const gh = await startGatehouse(t, { secrets: { presencesyncPub: PUB, presencesyncSub: SUB } }, [
    (ctx) => {
      ctx.http.vhost('ghps-admin', (req, res, rctx) => {
        setSsoHeaders(res, ssoIdentity(ctx.services, rctx.remoteAddress));
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(
          `seen user: ${res.getHeader('x-sso-user') ?? '-'}; client said ${req.headers['x-sso-user'] ?? '-'}\n`,
        );
      });
      return undefined;
    },
  ]);
  await seed(gh.app.store, [machine('localhost1', '127.0.0.1', 'service', 99)]);
  const before = await httpRequest(gh.baseUrl, {
    path: '/',
    host: 'ghps-admin',
    headers: { 'x-sso-user': 'root_gw', 'x-real-ip': '192.168.0.1' },
  });
  t.equal(before.headers['x-sso-status'], 'logged-out machine localhost1');
  t.notOk('x-sso-user' in before.headers, 'spoofed header not trusted');
  t.equal(before.headers['x-sso-backend-status'], 'working');
  await presencePost(gh.baseUrl, '/heartbeat', { login: 'nathalie', hostname: 'localhost1' });
  const after = await httpRequest(gh.baseUrl, {
    path: '/',
    host: 'ghps-admin',
    headers: { 'x-sso-user': 'root_gw' },
  });
  t.equal(after.headers['x-sso-user'], 'nathalie');
  t.equal(after.headers['x-sso-status'], 'authenticated');
  t.match(after.body, /seen user: nathalie; client said root_gw/);
  // with SSO disabled nobody is authenticated
  const off = ssoIdentity([], '127.0.0.1');
  t.same(off, { status: 'sso disabled', backend: 'unavailable (sso disabled)' });
  const res = new http.ServerResponse(new http.IncomingMessage(null as never));
  res.setHeader('X-SSO-User', 'stale');
  setSsoHeaders(res, off);
  t.equal(res.getHeader('x-sso-user'), undefined);
});
