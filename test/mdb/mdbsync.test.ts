import t from 'tap';
import { request } from 'undici';
import { machineEventUpdates } from '../../src/mdb/feed.js';
import { createMachine, deleteMachine, updateMachine } from '../../src/mdb/machines.js';
import type { Machine } from '../../src/mdb/model.js';
import { T } from '../../src/mdb/tables.js';
import { generateToken } from '../../src/sync/timeauth.js';
import { startGatehouse } from '../helpers/gatehouse.js';
import { rpcCall } from '../rpc/rpc-client.js';
import { openPoll, pollQuery, postUpdate } from '../sync/poll-client.js';

const PUB = 'PUB';
const SUB = 'SUB';
const secrets = { secrets: { mdbsyncPub: PUB, mdbsyncSub: SUB } };

t.test('scenario 20: empty MDB → first line is exactly []', async (t) => {
  const gh = await startGatehouse(t, secrets);
  const s = await openPoll(gh.baseUrl, 'mdbsync', pollQuery(SUB));
  t.teardown(() => s.close());
  t.equal(s.status, 200);
  t.equal(await s.next(), '[]');
  t.ok(await s.quiet(200), 'then nothing until a change');
});

t.test('scenario 21: snapshot of two machines with the 10 keys of to_dict', async (t) => {
  const gh = await startGatehouse(t, secrets);
  await gh.app.store.write((tx) => {
    createMachine(tx, {
      hostname: 'gw',
      aliases: 'mdb,mdbsync,ns,netboot,udb,udbsync,presencesync,ntp,sso',
      ip: '192.168.1.254',
      mac: '11:22:33:44:55:66',
      mtype: 'service',
      room: 'pasteur',
    });
    createMachine(tx, { hostname: 'pas-r01p01', mac: 'aa:bb:cc:dd:ee:01', mtype: 'user', room: 'pasteur' });
  });
  const s = await openPoll(gh.baseUrl, 'mdbsync.prolo', pollQuery(SUB));
  t.teardown(() => s.close());
  t.equal(
    await s.next(),
    '[{"type": "update", "data": {"hostname": "gw", "aliases": "mdb,mdbsync,ns,netboot,udb,udbsync,presencesync,ntp,sso", "ip": "192.168.1.254", "mac": "11:22:33:44:55:66", "rfs": 0, "hfs": 0, "mtype": "service", "room": "pasteur", "is_faulty": false, "is_faulty_details": ""}}, ' +
      '{"type": "update", "data": {"hostname": "pas-r01p01", "aliases": "", "ip": "192.168.0.1", "mac": "aa:bb:cc:dd:ee:01", "rfs": 0, "hfs": 0, "mtype": "user", "room": "pasteur", "is_faulty": false, "is_faulty_details": ""}}]',
    'byte-identical to the wire example of spec §1.6',
  );
});

t.test(
  'scenario 22: a registration reaches a connected subscriber within 1 s; delete carries the full record',
  async (t) => {
    const gh = await startGatehouse(t, secrets);
    const s = await openPoll(gh.baseUrl, 'mdbsync', pollQuery(SUB));
    t.teardown(() => s.close());
    t.equal(await s.next(), '[]');
    const started = Date.now();
    const r = await rpcCall(gh.baseUrl, 'mdb', 'register', {
      args: ['pas-r01p01', 'aa:bb:cc:dd:ee:01', 0, 0, 'pasteur', 'user'],
    });
    t.equal(r.status, 200);
    const line = await s.next(1000);
    t.ok(Date.now() - started < 1000, `delivered in ${Date.now() - started} ms`);
    t.equal(
      line,
      '[{"type": "update", "data": {"hostname": "pas-r01p01", "aliases": "", "ip": "192.168.0.1", "mac": "aa:bb:cc:dd:ee:01", "rfs": 0, "hfs": 0, "mtype": "user", "room": "pasteur", "is_faulty": false, "is_faulty_details": ""}}]',
    );
    const del = await request(`${gh.baseUrl}/api/v1/machines/pas-r01p01`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${gh.config.secrets.adminToken}` },
    });
    t.equal(del.statusCode, 200);
    await del.body.dump();
    t.equal(
      await s.next(1000),
      '[{"type": "delete", "data": {"hostname": "pas-r01p01", "aliases": "", "ip": "192.168.0.1", "mac": "aa:bb:cc:dd:ee:01", "rfs": 0, "hfs": 0, "mtype": "user", "room": "pasteur", "is_faulty": false, "is_faulty_details": ""}}]',
    );
    const failed = await rpcCall(gh.baseUrl, 'mdb', 'register', {
      args: ['Bad_Name', 'aa:bb:cc:dd:ee:02', 0, 0, 'pasteur', 'user'],
    });
    t.equal(failed.status, 500);
    t.ok(await s.quiet(200), 'a failed registration publishes nothing (only the pool counter moved)');
  },
);

t.test('one message per committed transaction, in commit order, nothing dropped', async (t) => {
  const gh = await startGatehouse(t, secrets);
  const s = await openPoll(gh.baseUrl, 'mdbsync', pollQuery(SUB));
  t.teardown(() => s.close());
  await s.next();
  await gh.app.store.write((tx) => {
    createMachine(tx, { hostname: 'm1', mac: '02:00:00:00:00:01', mtype: 'user' });
    createMachine(tx, { hostname: 'm2', mac: '02:00:00:00:00:02', mtype: 'user' });
  });
  const writes: Promise<unknown>[] = [];
  for (let i = 3; i <= 40; i++) {
    writes.push(
      gh.app.store.write((tx) =>
        createMachine(tx, {
          hostname: `m${i}`,
          mac: `02:00:00:00:00:${i.toString(16).padStart(2, '0')}`,
          mtype: 'user',
        }),
      ),
    );
  }
  writes.push(
    gh.app.store.write((tx) => updateMachine(tx, 'm1', { is_faulty: true, is_faulty_details: 'bad RAM' })),
  );
  await Promise.all(writes);
  const two = JSON.parse(await s.next()) as Array<{ data: { hostname: string } }>;
  t.same(
    two.map((u) => u.data.hostname),
    ['m1', 'm2'],
    'a two-machine transaction is one message',
  );
  const seen: string[] = [];
  for (let i = 3; i <= 40; i++)
    seen.push((JSON.parse(await s.next()) as Array<{ data: { hostname: string } }>)[0]!.data.hostname);
  t.same(
    seen,
    Array.from({ length: 38 }, (_, k) => `m${k + 3}`),
    'commit order',
  );
  t.match(await s.next(), /"hostname": "m1".*"is_faulty": true, "is_faulty_details": "bad RAM"/);
  const settings = await gh.app.store.write((tx) =>
    tx.put(T.pools, 'user', { mtype: 'user', network: '192.168.0.0/24', last: 100 }),
  );
  t.equal(settings, undefined);
  t.ok(await s.quiet(200), 'pools, switches and settings produce no sync traffic');
});

t.test('a MAC change is sent as delete of the old record + update of the new one', async (t) => {
  const before: Machine = {
    hostname: 'x',
    aliases: '',
    ip: '192.168.0.1',
    mac: 'aa:aa:aa:aa:aa:aa',
    rfs: 0,
    hfs: 0,
    mtype: 'user',
    room: 'other',
    is_faulty: false,
    is_faulty_details: '',
  };
  const after = { ...before, mac: 'bb:bb:bb:bb:bb:bb' };
  const ev = { seq: 1, table: 'machines', op: 'put' as const, key: 'x', before, after, ts: 0 };
  t.same(machineEventUpdates(ev), [
    { type: 'delete', data: before },
    { type: 'update', data: after },
  ]);
  t.same(machineEventUpdates({ ...ev, after: { ...before, rfs: 2 } }), [
    { type: 'update', data: { ...before, rfs: 2 } },
  ]);
});

t.test('scenarios 23-25: tokens, /update from external publishers, 405, ping', async (t) => {
  const gh = await startGatehouse(t, secrets);
  await gh.app.store.write((tx) =>
    createMachine(tx, { hostname: 'gw', mac: '11:22:33:44:55:66', ip: '192.168.1.254', mtype: 'service' }),
  );
  const bad = await request(`${gh.baseUrl}/poll${pollQuery(PUB)}`, {
    headers: { host: 'mdbsync' },
    headersTimeout: 2000,
  });
  t.same([bad.statusCode, await bad.body.text()], [403, 'Invalid token']);
  const noData = await request(`${gh.baseUrl}/poll?hmac=${encodeURIComponent(generateToken(SUB, null))}`, {
    headers: { host: 'mdbsync' },
  });
  t.equal(noData.statusCode, 400);
  await noData.body.dump();

  const s = await openPoll(gh.baseUrl, 'mdbsync', pollQuery(SUB));
  t.teardown(() => s.close());
  await s.next();
  const data = JSON.stringify([
    {
      type: 'update',
      data: {
        mac: '02:00:00:00:00:01',
        hostname: 'ext',
        aliases: '',
        ip: '10.0.0.1',
        rfs: 0,
        hfs: 0,
        mtype: 'user',
        room: 'other',
        is_faulty: false,
        is_faulty_details: '',
      },
    },
  ]);
  const ok = await postUpdate(gh.baseUrl, 'mdbsync', data, PUB);
  t.same([ok.status, ok.text], [200, '']);
  t.same(JSON.parse(await s.next(1000)), JSON.parse(data), 'subscribers receive that exact array');
  const fresh = await openPoll(gh.baseUrl, 'mdbsync', pollQuery(SUB));
  t.teardown(() => fresh.close());
  t.match(await fresh.next(), /"mac": "02:00:00:00:00:01"/, "a new subscriber's snapshot contains it");
  t.equal(
    gh.app.store.read((tx) => tx.count(T.machines)),
    1,
    'external updates are not written into the MDB store',
  );
  const q = await rpcCall(gh.baseUrl, 'mdb', 'query');
  t.equal((q.body.data as unknown[]).length, 1);

  const wrong = await postUpdate(gh.baseUrl, 'mdbsync', data, SUB);
  t.same([wrong.status, wrong.statusText], [403, 'Invalid token']);
  const get = await postUpdate(gh.baseUrl, 'mdbsync', data, PUB, 'GET');
  t.equal(get.status, 405);
  const ping = await request(`${gh.baseUrl}/__ping`, { headers: { host: 'mdbsync' } });
  t.same([ping.statusCode, await ping.body.text()], [200, 'pong']);
  // A store change still flows after external publishes.
  await gh.app.store.write((tx) => deleteMachine(tx, 'gw'));
  t.match(await s.next(1000), /^\[\{"type": "delete", "data": \{"hostname": "gw"/);
});

t.test('resume: ?since=SEQ&seq=1 replays missed machine changes from the store change log', async (t) => {
  const gh = await startGatehouse(t, secrets);
  await gh.app.store.write((tx) =>
    createMachine(tx, { hostname: 'a', mac: '02:00:00:00:00:0a', mtype: 'user' }),
  );
  const s = await openPoll(gh.baseUrl, 'mdbsync', pollQuery(SUB, '&seq=1'));
  const first = JSON.parse(await s.next()) as { seq: number; updates: unknown[] };
  t.equal(first.updates.length, 1);
  t.equal(String(first.seq), s.headers['x-gatehouse-seq']);
  await s.close();
  await gh.app.store.write((tx) =>
    createMachine(tx, { hostname: 'b', mac: '02:00:00:00:00:0b', mtype: 'user' }),
  );
  await gh.app.store.write((tx) => deleteMachine(tx, 'a'));
  const r = await openPoll(gh.baseUrl, 'mdbsync', pollQuery(SUB, `&since=${first.seq}&seq=1`));
  t.teardown(() => r.close());
  t.equal(r.headers['x-gatehouse-resumed'], 'true');
  const m1 = JSON.parse(await r.next()) as {
    seq: number;
    updates: Array<{ type: string; data: { hostname: string } }>;
  };
  const m2 = JSON.parse(await r.next()) as {
    seq: number;
    updates: Array<{ type: string; data: { hostname: string } }>;
  };
  t.same([m1.updates[0]!.type, m1.updates[0]!.data.hostname], ['update', 'b']);
  t.same([m2.updates[0]!.type, m2.updates[0]!.data.hostname], ['delete', 'a']);
  t.ok(m2.seq > m1.seq && m1.seq > first.seq);
  t.ok(await r.quiet(150));
  await gh.app.store.write((tx) =>
    createMachine(tx, { hostname: 'c', mac: '02:00:00:00:00:0c', mtype: 'user' }),
  );
  const live = JSON.parse(await r.next(1000)) as { seq: number };
  t.ok(live.seq > m2.seq, 'live lines carry the new seq');
});
