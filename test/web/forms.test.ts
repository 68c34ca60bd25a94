import t from 'tap';
import { request } from 'undici';
import { selfRegistrationAllowed } from '../../src/mdb/settings.js';
import { T } from '../../src/mdb/tables.js';
import { UserWriter, udbTables } from '../../src/udb/users.js';
import { ReservedLogins } from '../../src/udb/validate.js';
import { startGatehouse } from '../helpers/gatehouse.js';

/** The plain-form (no JavaScript) paths of switches, IP pools, settings and UID pools. */
t.test('switches, IP pools, settings and UID pools through plain forms, with the API rules', async (t) => {
  const gh = await startGatehouse(t);
  const store = gh.app.store;
  const tables = udbTables(store);
  await store.write((tx) => {
    const w = new UserWriter(tx, tables, new ReservedLogins(gh.config.udb));
    w.create({ login: 'rita', firstname: 'R', lastname: 'R', group: 'root', password: 'pw-rita' });
    w.create({ login: 'olga', firstname: 'O', lastname: 'O', group: 'orga', password: 'pw-olga' });
  });
  const session = async (host: string, login: string, password: string) => {
    const r = await request(`${gh.baseUrl}/_auth/login`, {
      method: 'POST',
      headers: { host, origin: `http://${host}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: `login=${login}&password=${password}`,
    });
    await r.body.dump();
    const cookie = String(r.headers['set-cookie']).split(';')[0]!;
    const page = await request(`${gh.baseUrl}/`, { headers: { host, cookie } });
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.body.text())?.[1] ?? '';
    const go = async (method: 'GET' | 'POST', path: string, form: Record<string, string> = {}) => {
      const res = await request(`${gh.baseUrl}${path}`, {
        method,
        headers: {
          host,
          cookie,
          origin: `http://${host}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        ...(method === 'POST' ? { body: new URLSearchParams({ _csrf: csrf, ...form }).toString() } : {}),
      });
      return { status: res.statusCode, location: res.headers.location, text: await res.body.text() };
    };
    return go;
  };
  const mdb = await session('mdb', 'rita', 'pw-rita');

  const bad = await mdb('POST', '/switches/new', { name: 'sw1', chassis: 'not-a-mac', room: 'alt' });
  t.equal(bad.status, 400);
  t.match(
    bad.text,
    /<small class="error" id="chassis-error">Enter a valid value\.<\/small>/,
    "Django's message, next to the field",
  );
  const ok = await mdb('POST', '/switches/new', {
    name: 'sw1',
    chassis: 'AA:BB:CC:00:00:01',
    room: 'alt',
    rfs: '1',
    hfs: '2',
  });
  t.equal(ok.status, 303);
  t.match(
    store.read((tx) => tx.get(T.switches, 'aa:bb:cc:00:00:01')),
    { name: 'sw1', room: 'alt', rfs: 1, hfs: 2 },
    'chassis lowercased as on every save',
  );
  const rename = await mdb('POST', '/switches/aa%3Abb%3Acc%3A00%3A00%3A01', {
    name: 'sw1',
    chassis: 'aa:bb:cc:00:00:09',
  });
  t.equal(rename.status, 400, 'the chassis is read-only on edit');
  t.equal((await mdb('POST', '/switches/aa%3Abb%3Acc%3A00%3A00%3A01/delete')).status, 303);
  t.notOk(store.read((tx) => tx.get(T.switches, 'aa:bb:cc:00:00:01')));

  const pool = await mdb('POST', '/pools/user', { network: '192.168.0.0/23', last: '100' });
  t.equal(pool.status, 303);
  t.equal(store.read((tx) => tx.get(T.pools, 'user'))?.last, 100);
  const badPool = await mdb('POST', '/pools/user', { network: '192.168.0.1/23' });
  t.equal(badPool.status, 400);
  t.match(badPool.text, 'network-error');

  const before = store.read((tx) => selfRegistrationAllowed(tx));
  t.equal((await mdb('POST', '/settings/self-registration', { enabled: String(!before) })).status, 303);
  t.equal(
    store.read((tx) => selfRegistrationAllowed(tx)),
    !before,
    'the toggle switched self registration',
  );

  // UID pools: organizers read them, only roots change them.
  const orga = await session('udb', 'olga', 'pw-olga');
  t.match((await orga('GET', '/uid-pools')).text, 'Only roots change UID pools.');
  t.equal((await orga('POST', '/uid-pools/user', { base: '20000', last: '0' })).status, 403);
  t.equal((await orga('GET', '/import')).status, 403, 'batch import adds users: roots only');
  const root = await session('udb', 'rita', 'pw-rita');
  t.equal(
    (await root('POST', '/uid-pools/user', { base: '11000', last: '0' })).status,
    400,
    'a base already used by another pool',
  );
  t.equal((await root('POST', '/uid-pools/user', { base: '20000', last: '5' })).status, 303);
  t.match(
    store.read((tx) => tx.get(tables.pools, 'user')),
    { base: 20000, last: 5 },
  );
  const created = await root('POST', '/users/new', {
    login: 'nina',
    firstname: 'Nina',
    lastname: 'N',
    group: 'user',
    password: '',
  });
  t.equal(created.status, 303);
  t.match(
    store.read((tx) => tx.get(tables.users, 'nina')),
    { uid: 20006, group: 'user' },
    'uid from the pool, password generated',
  );
  const pw = store.read((tx) => tx.get(tables.users, 'nina'))!.password;
  t.equal(
    (await orga('POST', '/users/nina/new-password')).status,
    303,
    'organizers give contestants a new password',
  );
  t.not(store.read((tx) => tx.get(tables.users, 'nina'))!.password, pw);
  t.equal((await orga('POST', '/users/nina/delete')).status, 403, 'but do not delete users');
  t.equal((await root('POST', '/users/nina/delete')).status, 303);
});
