import t from 'tap';
import { request } from 'undici';
import { T } from '../../src/mdb/tables.js';
import { startGatehouse } from '../helpers/gatehouse.js';

type Json = Record<string, unknown> & {
  error?: string;
  code?: string;
  fields?: Record<string, string[]>;
  items?: unknown[];
};

async function api(base: string, token: string | undefined, method: string, path: string, body?: unknown) {
  const res = await request(`${base}${path}`, {
    method: method as 'GET',
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.body.text();
  let json: Json = {};
  try {
    json = JSON.parse(text) as Json;
  } catch {
    json = { raw: text };
  }
  return { status: res.statusCode, json, headers: res.headers };
}

t.test('admin API: credential required', async (t) => {
  const gh = await startGatehouse(t);
  for (const path of ['/api/v1/machines', '/api/v1/switches/x', '/api/v1/pools', '/api/v1/settings']) {
    const r = await api(gh.baseUrl, undefined, 'GET', path);
    t.equal(r.status, 401, path);
    const wrong = await api(gh.baseUrl, 'nope', 'GET', path);
    t.equal(wrong.status, 401);
  }
});

t.test('machines CRUD with allocation, read-only identity fields and clear errors', async (t) => {
  const gh = await startGatehouse(t);
  const tok = gh.config.secrets.adminToken;
  const a = (m: string, p: string, b?: unknown) => api(gh.baseUrl, tok, m, p, b);
  const created = await a('POST', '/api/v1/machines', {
    hostname: 'pas-r01p01',
    mac: 'AA:BB:CC:DD:EE:01',
    mtype: 'user',
    room: 'pasteur',
  });
  t.equal(created.status, 201);
  t.same(created.json, {
    hostname: 'pas-r01p01',
    aliases: '',
    ip: '192.168.0.1',
    mac: 'aa:bb:cc:dd:ee:01',
    rfs: 0,
    hfs: 0,
    mtype: 'user',
    room: 'pasteur',
    is_faulty: false,
    is_faulty_details: '',
  });
  const laptop = await a('POST', '/api/v1/machines', {
    hostname: 'laptop',
    mac: 'aa:bb:cc:dd:ee:02',
    mtype: 'orga',
    ip: '192.168.1.200',
  });
  t.equal(laptop.json.ip, '192.168.1.200', 'a manual IP is kept');
  const list = await a('GET', '/api/v1/machines');
  t.same(
    [list.json.count, (list.json.items as Array<{ hostname: string }>).map((m) => m.hostname)],
    [2, ['laptop', 'pas-r01p01']],
  );
  const filtered = await a('GET', '/api/v1/machines?mtype=orga');
  t.equal(filtered.json.count, 1);
  const both = await a('GET', '/api/v1/machines?mtype__in=orga,user&rfs__in=0,1');
  t.equal(both.json.count, 2, '__in values are comma-separated in a query string');
  const badFilter = await a('GET', '/api/v1/machines?is_faulty=1');
  t.same(
    [badFilter.status, badFilter.json.code, badFilter.json.error],
    [400, 'GH_MDB_BAD_QUERY', "'is_faulty' is not a valid query argument"],
  );
  const one = await a('GET', '/api/v1/machines/pas-r01p01');
  t.equal(one.json.ip, '192.168.0.1');
  const patched = await a('PATCH', '/api/v1/machines/pas-r01p01', {
    is_faulty: true,
    is_faulty_details: 'bad RAM',
    rfs: '2',
    mac: 'aa:bb:cc:dd:ee:01',
  });
  t.equal(patched.status, 200);
  t.match(patched.json, { is_faulty: true, is_faulty_details: 'bad RAM', rfs: 2 });
  const readOnly = await a('PATCH', '/api/v1/machines/pas-r01p01', {
    ip: '192.168.0.99',
    hostname: 'renamed',
  });
  t.equal(readOnly.status, 400);
  t.equal(readOnly.json.code, 'GH_VALIDATION');
  t.same(Object.keys(readOnly.json.fields ?? {}).sort(), ['hostname', 'ip']);
  const invalid = await a('POST', '/api/v1/machines', { hostname: 'Bad_Name', mac: 'zz', room: 'kitchen' });
  t.equal(invalid.status, 400);
  t.same(invalid.json.fields, {
    hostname: ['Enter a valid value.'],
    mac: ['Enter a valid value.'],
    room: ["Value 'kitchen' is not a valid choice."],
  });
  t.match(invalid.json.error, /hostname: Enter a valid value/);
  const dup = await a('POST', '/api/v1/machines', {
    hostname: 'pas-r01p01',
    mac: 'aa:bb:cc:dd:ee:03',
    mtype: 'user',
  });
  t.same([dup.status, dup.json.fields], [400, { hostname: ['Machine with this Host name already exists.'] }]);
  const dupUpperMac = await a('POST', '/api/v1/machines', {
    hostname: 'new',
    mac: 'AA:BB:CC:DD:EE:01',
    mtype: 'user',
  });
  t.same(
    [dupUpperMac.status, dupUpperMac.json.fields],
    [400, { mac: ['Machine with this MAC already exists.'] }],
  );
  const unknownField = await a('POST', '/api/v1/machines', {
    hostname: 'x',
    mac: 'aa:bb:cc:dd:ee:09',
    colour: 'red',
  });
  t.same([unknownField.status, unknownField.json.fields], [400, { colour: ['Unknown field.'] }]);
  const notJson = await a('POST', '/api/v1/machines', '{"hostname": ');
  t.same([notJson.status, notJson.json.code], [400, 'GH_BAD_REQUEST']);
  const notObject = await a('POST', '/api/v1/machines', '[1,2]');
  t.equal(notObject.status, 400);
  const tooBig = await a('POST', '/api/v1/machines', {
    hostname: 'x',
    aliases: 'a'.repeat(17 * 1024 * 1024),
  });
  t.equal(tooBig.status, 413);
  const missing = await a('GET', '/api/v1/machines/nosuch');
  t.same([missing.status, missing.json.code], [404, 'GH_NOT_FOUND']);
  const method = await a('PUT', '/api/v1/machines/pas-r01p01', {});
  t.equal(method.status, 405);
  t.match(String(method.headers.allow), /PATCH/);
  const noRoute = await a('GET', '/api/v1/machines/a/b');
  t.equal(noRoute.status, 404);
  const del = await a('DELETE', '/api/v1/machines/laptop');
  t.same([del.status, del.json.hostname], [200, 'laptop']);
  t.equal(
    gh.app.store.read((tx) => tx.count(T.machines)),
    1,
    'failed requests wrote nothing',
  );
  t.equal(
    gh.app.store.read((tx) => tx.get(T.pools, 'user'))?.last,
    1,
    'failed creations consumed no address',
  );
  t.notOk(
    gh.app.store.read((tx) => tx.get(T.byIp, '192.168.1.200')),
    'indexes follow deletes',
  );
});

t.test('switches, pools and settings', async (t) => {
  const gh = await startGatehouse(t);
  const tok = gh.config.secrets.adminToken;
  const a = (m: string, p: string, b?: unknown) => api(gh.baseUrl, tok, m, p, b);
  const sw = await a('POST', '/api/v1/switches', {
    name: 'sw1',
    chassis: '68:B5:99:9F:45:40',
    room: 'pasteur',
  });
  t.same([sw.status, sw.json.chassis, sw.json.rfs], [201, '68:b5:99:9f:45:40', 0]);
  t.equal((await a('GET', '/api/v1/switches/68:B5:99:9F:45:40')).json.name, 'sw1');
  t.equal((await a('PATCH', '/api/v1/switches/68:b5:99:9f:45:40', { rfs: 1 })).json.rfs, 1);
  const dupSw = await a('POST', '/api/v1/switches', { name: 'sw2', chassis: '68:b5:99:9f:45:40' });
  t.same(dupSw.json.fields, { chassis: ['Switch with this Chassis ID already exists.'] });
  t.equal((await a('DELETE', '/api/v1/switches/68:b5:99:9f:45:40')).status, 200);

  const pools = await a('GET', '/api/v1/pools');
  t.same(
    (pools.json.items as Array<{ mtype: string; network: string; last: number }>).map((p) => [
      p.mtype,
      p.network,
      p.last,
    ]),
    [
      ['cluster', '192.168.2.0/24', 0],
      ['service', '192.168.1.0/24', 0],
      ['user', '192.168.0.0/24', 0],
    ],
    'migration pools, ordered by mtype, no orga pool',
  );
  t.equal((await a('PATCH', '/api/v1/pools/user', { last: 100 })).json.last, 100, 'reserve a manual range');
  const badNet = await a('PATCH', '/api/v1/pools/user', { network: '192.168.0.5/24' });
  t.same([badNet.status, Object.keys(badNet.json.fields ?? {})], [400, ['network']]);
  const orga = await a('POST', '/api/v1/pools', { mtype: 'orga', network: '192.168.3.0/24' });
  t.equal(orga.status, 201);
  const dupNet = await a('POST', '/api/v1/pools', { mtype: 'orga', network: '192.168.1.0/24' });
  t.same(dupNet.json.fields, {
    mtype: ['IP Pool with this For type already exists.'],
    network: ['IP Pool with this CIDR already exists.'],
  });

  const settings = await a('GET', '/api/v1/settings');
  const reg = (settings.json.items as Array<{ id: number; key: string; value_bool: boolean }>)[0]!;
  t.match(reg, { key: 'allow_self_registration', value_bool: true, value_str: null, value_int: null });
  t.equal((await a('PATCH', `/api/v1/settings/${reg.id}`, { value_bool: false })).json.value_bool, false);
  const made = await a('POST', '/api/v1/settings', { key: 'note', value_str: 'hello' });
  t.same([made.status, made.json.value_str], [201, 'hello']);
  const badId = await a('GET', '/api/v1/settings/abc');
  t.equal(badId.status, 400);
  t.equal((await a('DELETE', `/api/v1/settings/${made.json.id as number}`)).status, 200);
});
