import type { IncomingMessage } from 'node:http';
import fc from 'fast-check';
import t from 'tap';
import { request } from 'undici';
import { UserWriter, udbTables } from '../../src/udb/users.js';
import { ReservedLogins } from '../../src/udb/validate.js';
import { escapeHtml, html, join, SafeHtml, unsafeRaw } from '../../src/web/html.js';
import { WebSessions } from '../../src/web/sessions.js';
import { crossSite, multipartFields, safeNext } from '../../src/web/site.js';
import { startGatehouse } from '../helpers/gatehouse.js';
import { tempDir } from '../helpers/tmp.js';

const decodeEntities = (s: string) =>
  s.replace(
    /&(lt|gt|quot|#39|#96|amp);/g,
    (_m, e: string) => ({ lt: '<', gt: '>', quot: '"', '#39': "'", '#96': '`', amp: '&' })[e]!,
  );

t.test('the html tag escapes every interpolated string, and only SafeHtml passes through', async (t) => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), fc.string(), (a, b) => {
      const out = html`<p title="${a}">${b}</p>`.text;
      const inner = out.slice('<p title="'.length, -'</p>'.length);
      const [attr, body] = [inner.slice(0, inner.indexOf('">')), inner.slice(inner.indexOf('">') + 2)];
      return (
        !/[<>"'`]/.test(attr) &&
        !/[<>"'`]/.test(body) &&
        decodeEntities(attr) === a &&
        decodeEntities(body) === b
      );
    }),
  );
  t.equal(
    html`${'<b>'}${unsafeRaw('<i>')}${[1, '<', null, undefined, false, html`<u>`]}`.text,
    '&lt;b&gt;<i>1&lt;<u>',
  );
  t.equal(join(['<a>', html`<br>`], ', ').text, '&lt;a&gt;, <br>');
  t.equal(escapeHtml(`"'&`), '&quot;&#39;&amp;');
  t.type(html``, SafeHtml);
});

t.test('the demo reaches the admin hosts as <name>.localhost', async (t) => {
  const gh = await startGatehouse(t);
  t.equal(gh.app.http.resolveHost('mdb.localhost:8080'), 'mdb');
  t.equal(gh.app.http.resolveHost('udb.localhost'), 'udb');
  t.equal(gh.app.http.resolveHost('localhost:8080'), 'default');
});

t.test('redirect targets stay on this host', async (t) => {
  for (const bad of ['//evil.example/', 'http://evil/', '/\\evil', 'javascript:alert(1)', '', null])
    t.equal(safeNext(bad), '/', String(bad));
  t.equal(safeNext('/machines/new?mac=02:00'), '/machines/new?mac=02:00');
});

t.test('a state-changing request must come from this very host', async (t) => {
  const req = (headers: Record<string, string>) =>
    ({ headers: { host: 'mdb:8080', ...headers } }) as unknown as IncomingMessage;
  t.equal(crossSite(req({ origin: 'http://mdb:8080' })), undefined);
  t.equal(crossSite(req({ referer: 'http://mdb:8080/machines/x/edit' })), undefined);
  t.match(crossSite(req({ origin: 'http://evil' })), /another site/);
  t.match(crossSite(req({ origin: 'null' })), /opaque/);
  t.match(crossSite(req({ referer: 'http://mdb.evil:8080/' })), /another site/);
  t.ok(crossSite(req({ referer: 'http://mdb:8080.evil/' })), 'a Referer that is no URL is refused too');
  t.match(crossSite(req({})), /neither Origin nor Referer/);
  t.match(
    crossSite(req({ origin: 'http://udb:8080' })),
    /another site/,
    'another admin host is another origin',
  );
});

t.test('multipart bodies: text fields and the uploaded file as text', async (t) => {
  const body = Buffer.from(
    '--XyZ\r\nContent-Disposition: form-data; name="_csrf"\r\n\r\ntok\r\n--XyZ\r\nContent-Disposition: form-data; name="file"; filename="f.txt"\r\nContent-Type: text/plain\r\n\r\nÉlodie\tÇaglar\nA\tB\n\r\n--XyZ--\r\n',
  );
  const f = multipartFields(body, 'multipart/form-data; boundary=XyZ');
  t.equal(f.get('_csrf'), 'tok');
  t.equal(f.get('file'), 'Élodie\tÇaglar\nA\tB\n');
});

t.test('a session survives a restart of Gatehouse; sign-out ends it on the server', async (t) => {
  const dataDir = tempDir(t);
  let gh = await startGatehouse(t, { dataDir });
  await gh.app.store.write((tx) => {
    new UserWriter(tx, udbTables(gh.app.store), new ReservedLogins(gh.config.udb)).create({
      login: 'rita',
      firstname: 'R',
      lastname: 'R',
      group: 'root',
      password: 'pw-rita',
    });
  });
  const origin = gh.baseUrl;
  const signIn = await request(`${gh.baseUrl}/_auth/login`, {
    method: 'POST',
    headers: { origin, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'login=rita&password=pw-rita&next=/',
  });
  await signIn.body.dump();
  t.equal(signIn.statusCode, 303);
  const cookie = String(signIn.headers['set-cookie']).split(';')[0]!;
  t.match(String(signIn.headers['set-cookie']), /HttpOnly; SameSite=Lax; Max-Age=\d+/);
  await gh.app.stop();
  gh = await startGatehouse(t, { dataDir });
  const page = await request(`${gh.baseUrl}/`, { headers: { cookie } });
  const text = await page.body.text();
  t.equal(page.statusCode, 200, 'still signed in after the restart');
  t.match(text, /rita/);
  const csrf = /name="_csrf" value="([^"]+)"/.exec(text)![1]!;
  const out = await request(`${gh.baseUrl}/_auth/logout`, {
    method: 'POST',
    headers: { cookie, origin: gh.baseUrl, 'content-type': 'application/x-www-form-urlencoded' },
    body: `_csrf=${csrf}`,
  });
  await out.body.dump();
  t.equal(out.statusCode, 303);
  const after = await request(`${gh.baseUrl}/`, { headers: { cookie } });
  await after.body.dump();
  t.equal(after.statusCode, 303, 'the old cookie no longer signs in');
  t.match(String(after.headers.location), /\/_auth\/login/);
});

t.test('SSO without a cookie reuses the session of that machine and login', async (t) => {
  const gh = await startGatehouse(t);
  const sessions = new WebSessions(gh.app.store);
  const a = await sessions.open('rita', 'sso', '192.168.0.1');
  t.equal((await sessions.open('rita', 'sso', '192.168.0.1')).id, a.id);
  t.not((await sessions.open('rita', 'sso', '192.168.0.2')).id, a.id, 'another machine, another session');
  t.not(
    (await sessions.open('rita', 'password', '192.168.0.1')).id,
    a.id,
    'password sign-ins are never shared',
  );
  const ticket = await sessions.issueHandoff(a.session);
  t.match(await sessions.takeHandoff(ticket), { login: 'rita', via: 'sso' });
  t.equal(await sessions.takeHandoff(ticket), undefined, 'a handoff ticket works once');
});
