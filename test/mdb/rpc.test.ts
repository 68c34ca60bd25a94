import t from 'tap';
import { createMachine, deleteMachine } from '../../src/mdb/machines.js';
import { settingsByKey, deleteSetting, setSetting } from '../../src/mdb/settings.js';
import { createSwitch } from '../../src/mdb/switches.js';
import { T } from '../../src/mdb/tables.js';
import { startGatehouse } from '../helpers/gatehouse.js';
import { rawCall, rpcCall } from '../rpc/rpc-client.js';

const reg = (
  hostname: string,
  mac: string,
  room = 'pasteur',
  mtype = 'user',
  rfs: unknown = 0,
  hfs: unknown = 0,
) => ({
  args: [hostname, mac, rfs, hfs, room, mtype],
});

t.test('scenario 1: query on an empty MDB; scenario 8: the query string is ignored', async (t) => {
  const gh = await startGatehouse(t);
  const r = await rawCall(gh.baseUrl, 'mdb', '/call/query', 'GET');
  t.equal(r.status, 200);
  t.equal(r.contentType, 'application/json');
  t.equal(r.text, '{"type": "result", "data": []}\n');
  await gh.app.store.write((tx) => {
    createMachine(tx, {
      hostname: 'gw',
      mac: '11:22:33:44:55:66',
      ip: '192.168.1.254',
      mtype: 'service',
      room: 'pasteur',
    });
    createMachine(tx, { hostname: 'other', mac: '11:22:33:44:55:67', mtype: 'service' });
  });
  const all = await rawCall(gh.baseUrl, 'mdb.prolo:80', '/call/query?hostname=gw', 'GET');
  t.equal((all.body.data as unknown[]).length, 2, 'GET /call/query?hostname=gw returns every machine');
});

t.test('scenario 2 on the mdb host: unknown method → 404 MethodError', async (t) => {
  const gh = await startGatehouse(t);
  const r = await rawCall(gh.baseUrl, 'mdb', '/call/nosuch', 'POST', '{}');
  t.equal(r.status, 404);
  t.equal(
    r.text,
    '{"type": "exception", "exn_type": "MethodError", "exn_message": "nosuch", "exn_traceback": []}\n',
  );
});

t.test('scenarios 9-10: register allocates per pool; stored MAC lowercase', async (t) => {
  const gh = await startGatehouse(t);
  const first = await rpcCall(gh.baseUrl, 'mdb', 'register', reg('pas-r01p01', 'AA:BB:CC:DD:EE:01'));
  t.equal(first.text, '{"type": "result", "data": "192.168.0.1"}\n');
  const q = await rpcCall(gh.baseUrl, 'mdb', 'query', { kwargs: { mac: 'aa:bb:cc:dd:ee:01' } });
  t.equal(
    q.text,
    '{"type": "result", "data": [{"hostname": "pas-r01p01", "aliases": "", "ip": "192.168.0.1", "mac": "aa:bb:cc:dd:ee:01", "rfs": 0, "hfs": 0, "mtype": "user", "room": "pasteur", "is_faulty": false, "is_faulty_details": ""}]}\n',
  );
  const kw = await rpcCall(gh.baseUrl, 'mdb', 'register', {
    kwargs: {
      hostname: 'pas-r01p02',
      mac: 'aa:bb:cc:dd:ee:02',
      rfs: 0,
      hfs: 0,
      room: 'pasteur',
      mtype: 'user',
    },
  });
  t.equal(kw.body.data, '192.168.0.2', 'keyword arguments as netboot sends them (spec §1.6)');
  t.equal(
    (await rpcCall(gh.baseUrl, 'mdb', 'register', reg('orga1', 'aa:bb:cc:dd:ee:03', 'pasteur', 'orga'))).body
      .data,
    '192.168.0.3',
  );
  t.equal(
    (await rpcCall(gh.baseUrl, 'mdb', 'register', reg('srv1', 'aa:bb:cc:dd:ee:04', 'pasteur', 'service')))
      .body.data,
    '192.168.1.1',
  );
  t.equal(
    (await rpcCall(gh.baseUrl, 'mdb', 'register', reg('cl1', 'aa:bb:cc:dd:ee:05', 'cluster', 'cluster'))).body
      .data,
    '192.168.2.1',
  );
  const strings = await rpcCall(
    gh.baseUrl,
    'mdb',
    'register',
    reg('pas-r01p09', 'aa:bb:cc:dd:ee:09', 'pasteur', 'user', '3', '4'),
  );
  t.equal(strings.status, 200, 'integer fields accept strings');
  const stored = await rpcCall(gh.baseUrl, 'mdb', 'query', { kwargs: { hostname: 'pas-r01p09' } });
  t.match(stored.body.data, [{ rfs: 3, hfs: 4 }]);
});

t.test('scenario 11: self-registration disabled or missing', async (t) => {
  const gh = await startGatehouse(t);
  await gh.app.store.write((tx) => setSetting(tx, 'allow_self_registration', false));
  const off = await rpcCall(gh.baseUrl, 'mdb', 'register', reg('pas-r01p01', 'aa:bb:cc:dd:ee:01'));
  t.same(
    [off.status, off.body.exn_type, off.body.exn_message],
    [500, 'RuntimeError', 'self registration is disabled'],
  );
  await gh.app.store.write((tx) => {
    for (const s of settingsByKey(tx, 'allow_self_registration')) deleteSetting(tx, s.id);
  });
  const missing = await rpcCall(gh.baseUrl, 'mdb', 'register', reg('pas-r01p01', 'aa:bb:cc:dd:ee:01'));
  t.same([missing.status, missing.body.exn_message], [500, 'self registration is disabled']);
  const pool = gh.app.store.read((tx) => tx.get(T.pools, 'user'));
  t.equal(pool?.last, 0, 'a refused registration consumes no address');
  await gh.app.store.write((tx) => setSetting(tx, 'allow_self_registration', true));
  t.equal((await rpcCall(gh.baseUrl, 'mdb', 'register', reg('pas-r01p01', 'aa:bb:cc:dd:ee:01'))).status, 200);
});

t.test('scenario 12: a duplicate hostname is a ValidationError and still consumes an address', async (t) => {
  const gh = await startGatehouse(t);
  t.equal(
    (await rpcCall(gh.baseUrl, 'mdb', 'register', reg('pas-r01p01', 'aa:bb:cc:dd:ee:01'))).body.data,
    '192.168.0.1',
  );
  const dup = await rpcCall(gh.baseUrl, 'mdb', 'register', reg('pas-r01p01', 'aa:bb:cc:dd:ee:02'));
  t.equal(dup.status, 500);
  t.equal(dup.body.exn_type, 'ValidationError');
  t.equal(dup.body.exn_message, "{'hostname': ['Machine with this Host name already exists.']}");
  const next = await rpcCall(gh.baseUrl, 'mdb', 'register', reg('pas-r01p02', 'aa:bb:cc:dd:ee:02'));
  t.equal(next.body.data, '192.168.0.3', 'next-but-one address');
  const macDup = await rpcCall(gh.baseUrl, 'mdb', 'register', reg('pas-r01p03', 'aa:bb:cc:dd:ee:01'));
  t.equal(macDup.body.exn_message, "{'mac': ['Machine with this MAC already exists.']}");
  const upperDup = await rpcCall(gh.baseUrl, 'mdb', 'register', reg('pas-r01p04', 'AA:BB:CC:DD:EE:01'));
  t.same(
    [upperDup.body.exn_type, upperDup.body.exn_message],
    ['RuntimeError', 'unable to register, duplicate name?'],
    'an uppercase duplicate passes validation and fails at save, like the original',
  );
  const count = gh.app.store.read((tx) => tx.count(T.machines));
  t.equal(count, 2, 'no partial write');
});

t.test('scenarios 13-14: hostname pattern, unknown mtype and room', async (t) => {
  const gh = await startGatehouse(t);
  const upper = await rpcCall(gh.baseUrl, 'mdb', 'register', reg('Pas_R01', 'aa:bb:cc:dd:ee:01'));
  t.same(
    [upper.body.exn_type, upper.body.exn_message],
    ['ValidationError', "{'hostname': ['Enter a valid value.']}"],
  );
  const dots = await rpcCall(gh.baseUrl, 'mdb', 'register', reg('a.b.c', 'aa:bb:cc:dd:ee:02'));
  t.equal(dots.body.exn_message, "{'hostname': ['Enter a valid value.']}");
  const cl = await rpcCall(gh.baseUrl, 'mdb', 'register', reg('alt-r01p02.cl', 'aa:bb:cc:dd:ee:03', 'alt'));
  t.equal(cl.status, 200, 'one dot with a suffix is valid');
  const foo = await rpcCall(gh.baseUrl, 'mdb', 'register', reg('x1', 'aa:bb:cc:dd:ee:04', 'pasteur', 'foo'));
  t.same([foo.body.exn_type, foo.body.exn_message], ['RuntimeError', 'unable to allocate an IP address']);
  const kitchen = await rpcCall(gh.baseUrl, 'mdb', 'register', reg('x2', 'aa:bb:cc:dd:ee:05', 'kitchen'));
  t.same(
    [kitchen.body.exn_type, kitchen.body.exn_message],
    ['ValidationError', `{'room': ["Value 'kitchen' is not a valid choice."]}`],
  );
  const badMac = await rpcCall(gh.baseUrl, 'mdb', 'register', reg('x3', 'aa:bb:cc:dd:ee'));
  t.equal(badMac.body.exn_message, "{'mac': ['Enter a valid value.']}");
  const badInt = await rpcCall(
    gh.baseUrl,
    'mdb',
    'register',
    reg('x4', 'aa:bb:cc:dd:ee:06', 'pasteur', 'user', 'abc'),
  );
  t.equal(badInt.body.exn_message, "{'rfs': ['“abc” value must be an integer.']}");
  const several = await rpcCall(gh.baseUrl, 'mdb', 'register', reg('Bad', 'nope', 'kitchen', 'user', null));
  t.equal(
    several.body.exn_message,
    `{'hostname': ['Enter a valid value.'], 'mac': ['Enter a valid value.'], 'rfs': ['This field cannot be null.'], 'room': ["Value 'kitchen' is not a valid choice."]}`,
    'errors in model field order',
  );
  const wrongArgs = await rpcCall(gh.baseUrl, 'mdb', 'register', { kwargs: { hostname: 'x' } });
  t.same(
    [wrongArgs.body.exn_type, wrongArgs.body.exn_message],
    [
      'TypeError',
      "register() missing 5 required positional arguments: 'mac', 'rfs', 'hfs', 'room' and 'mtype'",
    ],
  );
  t.equal(
    gh.app.store.read((tx) => tx.count(T.machines)),
    1,
    'only the valid registration was written',
  );
});

t.test('pool overflow past the broadcast address is refused (documented deviation)', async (t) => {
  const gh = await startGatehouse(t);
  await gh.app.store.write((tx) =>
    tx.put(T.pools, 'user', { mtype: 'user', network: '192.168.0.0/24', last: 253 }),
  );
  t.equal(
    (await rpcCall(gh.baseUrl, 'mdb', 'register', reg('last', 'aa:bb:cc:dd:ee:01'))).body.data,
    '192.168.0.254',
  );
  const over = await rpcCall(gh.baseUrl, 'mdb', 'register', reg('over', 'aa:bb:cc:dd:ee:02'));
  t.same([over.body.exn_type, over.body.exn_message], ['RuntimeError', 'unable to allocate an IP address']);
  t.equal(gh.app.store.read((tx) => tx.get(T.pools, 'user'))?.last, 254);
});

t.test('scenarios 15-17: query lookups, errors and ordering', async (t) => {
  const gh = await startGatehouse(t);
  await gh.app.store.write((tx) => {
    createMachine(tx, { hostname: 'b', mac: '00:00:00:00:00:0b', ip: '192.168.0.2', mtype: 'user' });
    createMachine(tx, { hostname: 'a', mac: '00:00:00:00:00:0a', ip: '192.168.0.3', mtype: 'user' });
    createMachine(tx, {
      hostname: 'rhfs1',
      aliases: 'rhfs1,hfs1,rfs1',
      mac: '00:00:00:00:00:01',
      ip: '192.168.1.11',
      mtype: 'service',
      rfs: 1,
    });
    createMachine(tx, {
      hostname: 'rhfs10',
      aliases: 'rhfs10,hfs10,rfs10',
      mac: '00:00:00:00:00:10',
      ip: '192.168.1.20',
      mtype: 'service',
      rfs: 10,
    });
    createMachine(tx, {
      hostname: 'pas-r01p01',
      mac: '00:00:00:00:00:02',
      ip: '192.168.0.10',
      mtype: 'user',
      room: 'pasteur',
    });
  });
  const hosts = async (kwargs: Record<string, unknown>) =>
    ((await rpcCall(gh.baseUrl, 'mdb', 'query', { kwargs })).body.data as Array<{ hostname: string }>).map(
      (m) => m.hostname,
    );
  t.same((await hosts({})).slice(0, 2), ['a', 'b'], 'hostname order, not ip order');
  const faulty = await rpcCall(gh.baseUrl, 'mdb', 'query', { kwargs: { is_faulty: true } });
  t.same(
    [faulty.status, faulty.body.exn_type, faulty.body.exn_message],
    [500, 'ValueError', "'is_faulty' is not a valid query argument"],
  );
  t.same(await hosts({ hostname__startswith: 'pas' }), ['pas-r01p01']);
  t.same(await hosts({ aliases__contains: 'rfs1' }), ['rhfs1', 'rhfs10'], 'substring semantics');
  t.same(await hosts({ rfs: '10' }), ['rhfs10'], 'integer field with a string value');
  t.same(await hosts({ mtype__in: ['service'], rfs__gte: 1, rfs__lt: 5 }), ['rhfs1']);
  t.same(await hosts({ hostname__iregex: '^RHFS\\d+$' }), ['rhfs1', 'rhfs10']);
  t.same(await hosts({ ip: '192.168.0.3' }), ['a']);
  t.same(await hosts({ mac__iexact: '00:00:00:00:00:0A' }), ['a']);
  t.same(await hosts({ hostname__endswith: '10', room: 'other' }), ['rhfs10']);
  const badLookup = await rpcCall(gh.baseUrl, 'mdb', 'query', { kwargs: { hostname__frob: 'x' } });
  t.same([badLookup.status, badLookup.body.exn_type], [500, 'FieldError']);
  const badInt = await rpcCall(gh.baseUrl, 'mdb', 'query', { kwargs: { rfs: 'x' } });
  t.same(
    [badInt.body.exn_type, badInt.body.exn_message],
    ['ValueError', "Field 'rfs' expected a number but got 'x'."],
  );
  const badRegex = await rpcCall(gh.baseUrl, 'mdb', 'query', { kwargs: { hostname__regex: '(' } });
  t.equal(badRegex.body.exn_type, 'DataError');
  const redos = await rpcCall(gh.baseUrl, 'mdb', 'query', { kwargs: { aliases__regex: '(a+)+$' } });
  t.equal(redos.body.exn_type, 'DataError', 'catastrophic patterns are refused, not run');
  const positional = await rpcCall(gh.baseUrl, 'mdb', 'query', { args: ['gw'] });
  t.same(
    [positional.body.exn_type, positional.body.exn_message],
    ['TypeError', 'query() takes 1 positional argument but 2 were given'],
  );
});

t.test('scenario 18: switches ordered by rfs, hfs, name; chassis lowercased', async (t) => {
  const gh = await startGatehouse(t);
  await gh.app.store.write((tx) => {
    createSwitch(tx, { name: 'b', chassis: '00:00:00:00:00:01', rfs: 1 });
    createSwitch(tx, { name: 'z', chassis: '00:00:00:00:00:02', rfs: 0 });
    createSwitch(tx, { name: 'a', chassis: 'AA:BB:CC:00:00:03', rfs: 1 });
  });
  const r = await rpcCall(gh.baseUrl, 'mdb', 'switches');
  const sw = r.body.data as Array<{ name: string; chassis: string }>;
  t.same(
    sw.map((s) => s.name),
    ['z', 'a', 'b'],
  );
  t.equal(sw[1]!.chassis, 'aa:bb:cc:00:00:03');
  t.same(Object.keys(sw[0]!), ['name', 'chassis', 'room', 'rfs', 'hfs']);
  const filtered = await rpcCall(gh.baseUrl, 'mdb', 'switches', { kwargs: { rfs: 1, name__in: ['a'] } });
  t.same(
    (filtered.body.data as Array<{ name: string }>).map((s) => s.name),
    ['a'],
  );
  const bad = await rpcCall(gh.baseUrl, 'mdb', 'switches', { kwargs: { mac: 'x' } });
  t.equal(bad.body.exn_message, "'mac' is not a valid query argument");
});

t.test('scenario 19: ansible inventory', async (t) => {
  const gh = await startGatehouse(t);
  await gh.app.store.write((tx) => {
    createMachine(tx, {
      hostname: 'gw',
      aliases: 'mdb,ns',
      mac: '11:22:33:44:55:66',
      ip: '192.168.1.254',
      mtype: 'service',
      room: 'pasteur',
    });
    createMachine(tx, { hostname: 'node1', mac: '11:22:33:44:55:01', mtype: 'cluster', room: 'cluster' });
  });
  const r = await rawCall(gh.baseUrl, 'mdb', '/call/ansible', 'GET');
  const inv = r.body.data as Record<string, { hosts: string[] }> & {
    _meta: { hostvars: Record<string, { aliases: string[] }> };
  };
  t.same(Object.keys(inv), ['orga', 'user', 'cluster', 'service', 'pasteur', 'alt', 'other', '_meta']);
  t.same(inv.service!.hosts, ['gw']);
  t.same(inv.pasteur!.hosts, ['gw']);
  t.same(inv.orga!.hosts, [], 'empty groups present');
  t.same(inv.cluster!.hosts, ['node1', 'node1'], 'cluster group shared by mtype and room');
  t.same(inv._meta.hostvars.gw!.aliases, ['mdb', 'ns']);
  t.same(inv._meta.hostvars.node1!.aliases, ['']);
});

t.test('the mdb host serves /metrics and the admin pages at /; other paths 404', async (t) => {
  const gh = await startGatehouse(t);
  const m = await rawCall(gh.baseUrl, 'mdb', '/metrics', 'GET');
  t.match(m.text, /gatehouse_rpc_call_in_seconds/);
  const root = await rawCall(gh.baseUrl, 'mdb', '/', 'GET');
  t.equal(root.status, 303, 'the admin pages: sent to sign in');
  const missing = await rawCall(gh.baseUrl, 'mdb', '/admin/', 'GET');
  t.equal(missing.status, 404);
  await gh.app.store.write((tx) => {
    createMachine(tx, { hostname: 'x', mac: '11:22:33:44:55:01', mtype: 'service' });
    deleteMachine(tx, 'x');
  });
  t.equal((await rpcCall(gh.baseUrl, 'mdb', 'query')).body.data?.constructor, Array);
});
