import t from 'tap';
import { request } from 'undici';
import { machinesTable } from '../../src/mdb/model.js';
import { generateToken } from '../../src/sync/timeauth.js';
import { startGatehouse } from '../helpers/gatehouse.js';

// biome-ignore lint/suspicious/noExplicitAny: responses are arbitrary JSON the assertions walk into
type Json = Record<string, any>;

const basic = (login: string, password: string) =>
  `Basic ${Buffer.from(`${login}:${password}`).toString('base64')}`;

t.test(
  'organizers and roots sign in with their UDB password or SSO; organizers get what spec §2.5/§7.4 allow',
  async (t) => {
    const gh = await startGatehouse(t, { presence: { timeout: 30 } });
    const call = async (method: string, path: string, authorization: string | undefined, body?: unknown) => {
      const res = await request(`${gh.baseUrl}${path}`, {
        method: method as 'GET',
        headers: {
          'content-type': 'application/json',
          ...(authorization !== undefined ? { authorization } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.body.text();
      return {
        status: res.statusCode,
        body: JSON.parse(text) as Json,
        auth: res.headers['www-authenticate'],
      };
    };
    const token = `Bearer ${gh.config.secrets.adminToken}`;
    for (const [login, group] of [
      ['olga', 'orga'],
      ['rita', 'root'],
      ['ursula', 'user'],
    ] as const) {
      const c = await call('POST', '/api/v1/users', token, {
        login,
        firstname: login,
        lastname: 'X',
        group,
        password: `${login}-pw1`,
      });
      t.equal(c.status, 201, JSON.stringify(c.body));
    }
    const orga = basic('olga', 'olga-pw1');
    const root = basic('rita', 'rita-pw1');

    // Organizers: list, read, edit contestants.
    t.equal((await call('GET', '/api/v1/users', orga)).status, 200);
    t.equal((await call('GET', '/api/v1/users/ursula', orga)).body.login, 'ursula');
    const edit = await call('PATCH', '/api/v1/users/ursula', orga, { firstname: 'Ursule' });
    t.equal(edit.status, 200);
    t.equal(edit.body.firstname, 'Ursule');
    t.equal((await call('GET', '/api/v1/uid-pools', orga)).status, 200);
    // …but never a root, never make one, never create/delete, never pools, never MDB.
    for (const [method, path, body] of [
      ['PATCH', '/api/v1/users/rita', { firstname: 'R' }],
      ['PATCH', '/api/v1/users/ursula', { group: 'root' }],
      ['POST', '/api/v1/users', { login: 'newbie', firstname: 'N', lastname: 'B', group: 'user' }],
      ['DELETE', '/api/v1/users/ursula', undefined],
      ['PATCH', '/api/v1/uid-pools/user', { last: 10050 }],
      ['GET', '/api/v1/machines', undefined],
    ] as const) {
      const r = await call(method, path, orga, body);
      t.equal(r.status, 403, `organizer ${method} ${path}: ${JSON.stringify(r.body)}`);
      t.equal(r.body.code, 'GH_FORBIDDEN');
    }
    t.equal((await call('GET', '/api/v1/users/rita', root)).body.group, 'root');

    // A root signed in with a password may do all of it.
    t.equal((await call('PATCH', '/api/v1/users/ursula', root, { group: 'orga' })).status, 200);
    t.equal((await call('GET', '/api/v1/machines', root)).status, 200);
    t.equal((await call('DELETE', '/api/v1/users/ursula', root)).status, 200);

    // Contestants and wrong passwords are refused; the challenge names both schemes.
    const wrong = await call('GET', '/api/v1/users', basic('olga', 'nope'));
    t.equal(wrong.status, 401);
    t.match(wrong.auth, /Basic/);
    t.equal((await call('GET', '/api/v1/users', basic('nobody', 'x'))).status, 401);
    await call('POST', '/api/v1/users', token, {
      login: 'carl',
      firstname: 'C',
      lastname: 'X',
      group: 'user',
      password: 'carl-pw1',
    });
    const contestant = await call('GET', '/api/v1/users', basic('carl', 'carl-pw1'));
    t.equal(contestant.status, 403);
    t.match(contestant.body.error, /organizers and roots/);
    const none = await call('GET', '/api/v1/users', undefined);
    t.equal(none.status, 401, 'no credentials and no SSO identity');

    // SSO: the organizer logged in on the calling machine (127.0.0.1) is the caller.
    const store = gh.app.store;
    await store.write((tx) =>
      tx.put(machinesTable(store), 'orgapc', {
        hostname: 'orgapc',
        aliases: '',
        ip: '127.0.0.1',
        mac: '11:22:33:44:55:98',
        rfs: 0,
        hfs: 0,
        mtype: 'orga',
        room: 'pasteur',
        is_faulty: false,
        is_faulty_details: '',
      }),
    );
    const data = JSON.stringify({ login: 'olga', hostname: 'orgapc' });
    const hb = await request(`${gh.baseUrl}/heartbeat`, {
      method: 'POST',
      headers: { host: 'presencesync', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        data,
        hmac: generateToken(gh.config.secrets.presencesyncPub, data),
      }).toString(),
    });
    await hb.body.dump();
    t.equal(hb.statusCode, 200);
    t.equal((await call('GET', '/api/v1/users', undefined)).status, 200, 'SSO organizer lists users');
    t.equal(
      (await call('GET', '/api/v1/machines', undefined)).status,
      403,
      'SSO organizer is still not a root',
    );
    // The CLI's endpoints stay token-only.
    t.equal((await call('POST', '/api/v1/ops/usermod', orga, {})).status, 401);
  },
);
