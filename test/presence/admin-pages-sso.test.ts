import t from 'tap';
import { request } from 'undici';
import { machinesTable } from '../../src/mdb/model.js';
import { generateToken } from '../../src/sync/timeauth.js';
import { startGatehouse } from '../helpers/gatehouse.js';

t.test('mdb and udb pages carry X-SSO-* from Gatehouse\'s own lookup, never from the client', async (t) => {
  const gh = await startGatehouse(t, { presence: { timeout: 30 } });
  const store = gh.app.store;
  await store.write((tx) =>
    tx.put(machinesTable(store), 'localhost1', {
      hostname: 'localhost1',
      aliases: 'localhost2',
      ip: '127.0.0.1',
      mac: '11:22:33:44:55:99',
      rfs: 0,
      hfs: 0,
      mtype: 'service',
      room: 'pasteur',
      is_faulty: false,
      is_faulty_details: '',
    }),
  );
  const page = async (host: string, headers: Record<string, string> = {}) => {
    const r = await request(`${gh.baseUrl}/`, { headers: { host, ...headers } });
    await r.body.dump();
    return { status: r.statusCode, headers: { get: (h: string) => (r.headers[h] as string | undefined) ?? null } };
  };

  let res = await page('mdb', { 'X-SSO-User': 'root_gw' });
  t.equal(res.status, 303, 'a client-sent X-SSO-User signs nobody in: sent to the sign-in form');
  t.equal(res.headers.get('x-sso-status'), 'logged-out machine localhost1');
  t.equal(res.headers.get('x-sso-user'), null, 'a client-sent X-SSO-User is not trusted');
  t.equal(res.headers.get('x-sso-backend-status'), 'working');

  // Heartbeats are trusted as-is (spec §9.3) and bypass the start-up embargo.
  const data = JSON.stringify({ login: 'nathalie', hostname: 'localhost1' });
  const hb = await request(`${gh.baseUrl}/heartbeat`, {
    method: 'POST',
    headers: { host: 'presencesync', 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ data, hmac: generateToken(gh.config.secrets.presencesyncPub, data) }).toString(),
  });
  await hb.body.dump();
  t.equal(hb.statusCode, 200);

  for (const host of ['mdb', 'udb.prolo']) {
    res = await page(host);
    t.equal(res.headers.get('x-sso-status'), 'authenticated', host);
    t.equal(res.headers.get('x-sso-user'), 'nathalie', host);
    t.equal(res.status, 403, `${host}: nathalie has no UDB account here, so the admin pages refuse her`);
  }
  const rpc = await request(`${gh.baseUrl}/call/query`, { headers: { host: 'mdb' } });
  await rpc.body.dump();
  t.equal(rpc.statusCode, 200, 'RPC is unaffected');
  t.equal(rpc.headers['content-type'], 'application/json');
});
