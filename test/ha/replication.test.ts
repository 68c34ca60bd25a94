import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { request } from 'undici';
import { runCli } from '../../src/cli/main.js';
import { defaultConfig } from '../../src/config/index.js';
import type { HaService, HaStatus } from '../../src/ha/service.js';
import type { Machine } from '../../src/mdb/model.js';
import { machinesTable } from '../../src/mdb/model.js';
import type { ChangeEvent, Table } from '../../src/store/index.js';
import { startGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Two in-process gateways on loopback. Roles are forced through `ha.role` (the floating
 * address part is tested in namespaces: test/netns/ha.test.ts).
 */

const SECRET = 'test-ha-secret';

async function gateway(
  t: { teardown(fn: () => void | Promise<void>): void },
  node: string,
  role: 'primary' | 'standby',
  peer?: string,
  extra: Record<string, unknown> = {},
): Promise<TestGatehouse> {
  return startGatehouse(t, {
    secrets: { haReplication: SECRET },
    ha: { enabled: true, node, role, ...(peer ? { peer } : {}), retryMs: 50, syncTimeoutMs: 2000, ...extra },
  });
}

async function register(gh: TestGatehouse, i: number): Promise<{ status: number; body: string }> {
  const mac = `52:54:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
  const r = await request(
    `${gh.baseUrl}/register?hostname=m${i}&mac=${mac}&rfs=0&hfs=0&room=pasteur&mtype=user`,
    { headers: { host: 'netboot' } },
  );
  return { status: r.statusCode, body: await r.body.text() };
}

function machines(gh: TestGatehouse): Machine[] {
  return gh.app.store.read((tx) => tx.values(machinesTable(gh.app.store)));
}

async function status(gh: TestGatehouse): Promise<HaStatus> {
  const r = await request(`${gh.baseUrl}/ha/v1/status`, { headers: { authorization: `Bearer ${SECRET}` } });
  return (await r.body.json()) as HaStatus;
}

async function until(what: string, fn: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function setRole(gh: TestGatehouse, role: 'primary' | 'standby', peer?: string) {
  const config = defaultConfig({ ...gh.config, ha: { ...gh.config.ha, role, ...(peer ? { peer } : {}) } });
  gh.config = config;
  return gh.app.reload(config);
}

t.test(
  'a standby applies every primary transaction with the same sequence numbers and refuses writes',
  async (t) => {
    const a = await gateway(t, 'gwa', 'primary');
    for (let i = 0; i < 5; i++) t.equal((await register(a, i)).status, 200);
    const b = await gateway(t, 'gwb', 'standby', a.baseUrl);
    // The first contact is a snapshot (b never followed anyone).
    await until('b has the 5 machines', () => machines(b).length === 5);
    const seen: ChangeEvent[][] = [];
    await until('quiet', async () => (await status(b)).appliedR === (await status(a)).appliedR);
    const before = (await status(b)).appliedR;
    b.app.store.subscribe((evs) => seen.push([...evs]));
    for (let i = 5; i < 25; i++)
      t.equal((await register(a, i)).status, 200, `registration ${i} on the primary`);
    await until('b has the 25 machines', () => machines(b).length === 25);
    t.same(
      machines(b).map((m) => [m.hostname, m.ip]),
      machines(a).map((m) => [m.hostname, m.ip]),
      'same rows',
    );
    t.equal(b.app.store.lastSeq, a.app.store.lastSeq, 'same change sequence');
    t.same(b.app.store.changesSince(0), a.app.store.changesSince(0), 'same change log');
    t.ok(
      (await status(b)).appliedR - before >= seen.length,
      'no more publications than replicated transactions',
    );
    t.equal(
      seen.filter((evs) => evs.some((e) => e.table === 'machines')).length,
      20,
      'one published transaction per registration',
    );
    t.ok(
      seen.every((evs, i) => i === 0 || evs[0]!.seq === seen[i - 1]![seen[i - 1]!.length - 1]!.seq + 1),
      'in commit order',
    );
    // Unlogged tables (the MDB indexes, DHCP leases…) replicate too: b answers a query by MAC.
    const q = await request(`${b.baseUrl}/call/query?mac=52:54:00:00:00:07`, { headers: { host: 'mdb' } });
    t.match(await q.body.text(), /"hostname": "m7"/);

    const refused = await register(b, 99);
    t.equal(refused.status, 503, 'the standby refuses registrations');
    t.match(refused.body, /standby/);
    const rpc = await request(`${b.baseUrl}/call/register`, {
      method: 'POST',
      headers: { host: 'mdb', 'content-type': 'application/json' },
      body: `${JSON.stringify({ args: ['x', '52:54:00:aa:aa:aa', 0, 0, 'pasteur', 'user'], kwargs: {} })}\n`,
    });
    t.equal(rpc.statusCode, 503, 'the standby refuses RPC writes');
    t.match(await rpc.body.text(), /GH_HA_STANDBY|standby/);
    const adminWrite = (gh: TestGatehouse) =>
      request(`${gh.baseUrl}/api/v1/settings`, {
        method: 'POST',
        headers: { authorization: 'Bearer demo-admin-token', 'content-type': 'application/json' },
        body: JSON.stringify({ key: 'ha_test', value_int: 1 }),
      });
    const admin = await adminWrite(b);
    t.equal(admin.statusCode, 503, 'the standby refuses admin writes');
    t.match(await admin.body.json(), { code: 'GH_HA_STANDBY' });
    const adminOk = await adminWrite(a);
    await adminOk.body.dump();
    t.equal(adminOk.statusCode, 201, 'the primary accepts the same write');

    const sa = await status(a);
    const sb = await status(b);
    t.match(sa, { role: 'primary', node: 'gwa', appliedR: sb.appliedR });
    t.match(sb, {
      role: 'standby',
      node: 'gwb',
      lagTransactions: 0,
      following: { connected: true, primaryNode: 'gwa' },
    });
    t.equal(sb.term, sa.term, 'the standby knows the primary term');
    const metrics = await (await request(`${b.baseUrl}/metrics`)).body.text();
    t.match(metrics, /gatehouse_ha_replication_lag_transactions 0/);
    t.match(metrics, /gatehouse_ha_role 0/);
  },
);

t.test('a standby resumes from its position after a disconnect, without a snapshot', async (t) => {
  const a = await gateway(t, 'gwa', 'primary');
  const b = await gateway(t, 'gwb', 'standby', a.baseUrl);
  for (let i = 0; i < 3; i++) await register(a, i);
  await until('b has 3', () => machines(b).length === 3);
  const snapshots = () => a.logs.filter((l) => l.event === 'ha.feed_snapshot').length;
  const snapshotsBefore = snapshots();
  // Cut the stream: b stops following (forced primary would promote; a peer change reconnects).
  await setRole(b, 'standby', `${a.baseUrl}/`);
  for (let i = 3; i < 10; i++) await register(a, i);
  await until('b has 10', () => machines(b).length === 10);
  t.equal(snapshots(), snapshotsBefore, 'resumed from the journal, no new snapshot');
  t.ok(
    a.logs.some((l) => l.event === 'ha.feed_resume'),
    'the primary logged a resume',
  );
});

t.test('a standby whose position is older than the kept journal takes a snapshot', async (t) => {
  const a = await gateway(t, 'gwa', 'primary', undefined, { journalMax: 10 });
  const b = await gateway(t, 'gwb', 'standby', a.baseUrl);
  await register(a, 0);
  await until('b has 1', () => machines(b).length === 1);
  await b.app.stop();
  for (let i = 1; i < 40; i++) t.equal((await register(a, i)).status, 200);
  const b2 = await startGatehouse(t, { ...b.config, http: { listen: ['127.0.0.1:0'] } } as never);
  await until('b2 took a snapshot', () => b2.logs.some((l) => l.event === 'ha.snapshot_applied'), 30_000);
  await until('b2 has 40', () => machines(b2).length === 40, 30_000);
  t.equal(b2.app.store.lastSeq, a.app.store.lastSeq);
  t.ok(
    a.logs.some((l) => l.event === 'ha.feed_snapshot' && (l.r as number) > 10),
    'a served a snapshot',
  );
});

t.test(
  'takeover: the standby is promoted with a higher term, the old primary rejoins as standby and catches up',
  async (t) => {
    const a = await gateway(t, 'gwa', 'primary');
    const b = await gateway(t, 'gwb', 'standby', a.baseUrl);
    for (let i = 0; i < 5; i++) await register(a, i);
    await until('b has 5', () => machines(b).length === 5);
    const termA = (await status(a)).term;
    // keepalived moved the address: a loses it first, then b gets it.
    await setRole(a, 'standby', b.baseUrl);
    t.equal((await register(a, 50)).status, 503, 'a no longer accepts writes');
    await setRole(b, 'primary');
    const sb = await status(b);
    t.equal(sb.role, 'primary');
    t.ok(sb.term > termA, 'the new primary has a higher term');
    for (let i = 5; i < 12; i++) t.equal((await register(b, i)).status, 200);
    await until('a caught up', () => machines(a).length === 12);
    t.equal(a.app.store.lastSeq, b.app.store.lastSeq, 'same sequence on both');
    t.equal((await status(a)).role, 'standby');
    t.equal(
      (await status(a)).following!.snapshots,
      0,
      'the old primary resumed from its journal (histories match)',
    );
  },
);

t.test(
  'partition: the side that keeps the address wins, the other converges on it with a snapshot',
  async (t) => {
    const a = await gateway(t, 'gwa', 'primary');
    const b = await gateway(t, 'gwb', 'standby', a.baseUrl);
    await register(a, 0);
    await until('b has 1', () => machines(b).length === 1);
    // Partition: b stops hearing keepalived and takes the address too; both accept writes.
    await setRole(b, 'primary');
    const termB = (await status(b)).term;
    t.equal((await register(b, 1)).status, 200, 'b acknowledges a write during the partition');
    t.equal((await register(a, 2)).status, 200, 'a acknowledges a write during the partition');
    // The partition heals and VRRP keeps a (higher priority): b drops the address and follows.
    await setRole(b, 'standby', a.baseUrl);
    await until('b converged on a', () => machines(b).some((m) => m.hostname === 'm2'));
    t.ok(
      machines(a).some((m) => m.hostname === 'm2'),
      'a kept its acknowledged write',
    );
    t.notOk(
      machines(b).some((m) => m.hostname === 'm1'),
      "b's write of the partition is gone (the side that lost the address)",
    );
    t.equal(b.app.store.lastSeq, a.app.store.lastSeq, 'same sequence on both');
    t.ok(
      b.logs.some((l) => l.event === 'ha.snapshot_applied' && (l.rows as number) > 0),
      'b took a snapshot (diverged history)',
    );
    const sa = await status(a);
    t.ok(sa.term > termB, "a moved past b's partition term");
    t.ok(a.logs.some((l) => l.event === 'ha.term_bumped'));
    // b now refuses anything of a term older than the newest it knows.
    t.equal((await status(b)).term, sa.term);
  },
);

t.test(
  'sync mode waits for the standby; without a standby it degrades to async and says so in /readyz',
  async (t) => {
    const a = await gateway(t, 'gwa', 'primary', undefined, { mode: 'sync', syncTimeoutMs: 300 });
    const ready0 = await request(`${a.baseUrl}/readyz`);
    t.equal(ready0.statusCode, 503);
    t.match(await ready0.body.text(), /replication degraded/);
    t.equal((await register(a, 0)).status, 200, 'no standby: answers at commit');
    const b = await gateway(t, 'gwb', 'standby', a.baseUrl);
    await until(
      'b caught up',
      async () => machines(b).length === 1 && (await request(`${a.baseUrl}/readyz`)).statusCode === 200,
    );
    for (let i = 1; i < 10; i++) {
      t.equal((await register(a, i)).status, 200);
      t.equal(machines(b).length, i + 1, `registration ${i} is on the standby when its answer arrives`);
    }
    // The standby stops: the next write waits syncTimeoutMs at most, then writes stop waiting.
    await b.app.stop();
    const t0 = Date.now();
    t.equal((await register(a, 10)).status, 200);
    t.ok(Date.now() - t0 < 3000, 'answered despite the standby being down');
    await until(
      'readyz says degraded',
      async () => (await request(`${a.baseUrl}/readyz`)).statusCode === 503,
    );
    const m = await (await request(`${a.baseUrl}/metrics`)).body.text();
    t.match(m, /gatehouse_ha_sync_degraded 1/);
  },
);

t.test('the replication endpoints need the shared secret', async (t) => {
  const a = await gateway(t, 'gwa', 'primary');
  const r = await request(`${a.baseUrl}/ha/v1/log?r=0`, { headers: { authorization: 'Bearer wrong' } });
  t.equal(r.statusCode, 401);
  await r.body.dump();
  const ha = a.app.service<HaService>('ha');
  t.equal(ha?.currentRole, 'primary');
});

t.test('gatehouse ha status [--json] shows role, term, positions and lag', async (t) => {
  const a = await gateway(t, 'gwa', 'primary');
  const b = await gateway(t, 'gwb', 'standby', a.baseUrl);
  await register(a, 0);
  await until('b has 1', () => machines(b).length === 1);
  const dir = tempDir(t);
  const file = path.join(dir, 'gatehouse.yml');
  fs.writeFileSync(file, `ha: { enabled: true }\nsecrets: { haReplication: ${SECRET} }\n`);
  const out: string[] = [];
  const io = { out: (s: string) => out.push(s), err: (s: string) => out.push(s) };
  const server = new URL(b.baseUrl).host;
  t.equal(await runCli(['ha', 'status', '--json', '--config', file, '--server', server], io), 0);
  const s = JSON.parse(out.join('\n')) as HaStatus;
  t.match(s, { node: 'gwb', role: 'standby', lagTransactions: 0, primaryR: s.appliedR });
  t.ok(s.appliedR > 0);
  out.length = 0;
  t.equal(await runCli(['ha', 'status', '--config', file, '--server', server], io), 0);
  t.match(out.join('\n'), /role: +standby[\s\S]*lag: +0 transactions/);
});

t.test('DHCP lease blocks (unlogged, bytes) replicate; the local engine marker does not', async (t) => {
  const a = await gateway(t, 'gwa', 'primary');
  const b = await gateway(t, 'gwb', 'standby', a.baseUrl);
  const leases = { name: 'dhcp_leases', logged: false } as Table<Uint8Array>;
  const state = { name: 'dhcp_state', logged: false } as Table<unknown>;
  const block = new Uint8Array([9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 255]);
  await a.app.store.write((tx) => {
    tx.put(leases, '10.9.9.0/24', block);
    tx.put(state, 'engine', { running: true, startedAt: 1, maxLeaseTime: 60 });
  });
  await until('b has the block', () => b.app.store.read((tx) => tx.get(leases, '10.9.9.0/24')) !== undefined);
  t.same([...b.app.store.read((tx) => tx.get(leases, '10.9.9.0/24'))!], [...block], 'same bytes');
  t.notMatch(
    b.app.store.read((tx) => tx.get(state, 'engine')),
    { startedAt: 1 },
    'dhcp_state stays local',
  );
  // DHCP itself runs on the primary only.
  t.ok(
    a.logs.some((l) => l.event === 'dhcp.started'),
    'DHCP runs on the primary',
  );
  t.notOk(
    b.logs.some((l) => l.event === 'dhcp.started'),
    'DHCP is silent on the standby',
  );
  await setRole(a, 'standby', b.baseUrl);
  await setRole(b, 'primary');
  await until('DHCP started on promotion', () => b.logs.some((l) => l.event === 'dhcp.started'));
  t.ok(
    a.logs.some((l) => l.event === 'ha.service_stopped'),
    'and stopped on the demoted gateway',
  );
});
