/**
 * The DHCP service in-process, unprivileged: the relay-only UDP socket on loopback, driven by a
 * test relay agent. For that, the alien network is moved to 127.0.0.0/16 so that the relay's
 * giaddr (127.0.0.1) names a served network and replies come back to the test.
 */
import fc from 'fast-check';
import t from 'tap';
import { leases } from '../../src/cli/leases.js';
import type { GatehouseConfigInput } from '../../src/config/index.js';
import { leasesTable, stateTable } from '../../src/dhcp/lease-store.js';
import type { DhcpServer } from '../../src/dhcp/server.js';
import { machinesTable } from '../../src/mdb/model.js';
import { allMigrations } from '../../src/migrations.js';
import { Store } from '../../src/store/index.js';
import { startGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { tempDir } from '../helpers/tmp.js';
import { type ClientMessage, clientBytes, machine, viewReply } from './helpers.js';
import { RelayPeer } from './relay-peer.js';

const RELAY = '127.0.0.1';
const KNOWN = machine('pas-r01p01', 'aa:bb:cc:dd:ee:01', '192.168.0.1');

function loopConfig(extra: { dataDir?: string; alienEnd?: string } = {}): GatehouseConfigInput {
  return {
    ...(extra.dataDir ? { dataDir: extra.dataDir } : {}),
    network: { alien: '127.0.0.0/16', alienGateway: '127.0.255.254' },
    dhcp: {
      listen: '127.0.0.1:0',
      alien: { rangeStart: '127.0.1.1', rangeEnd: extra.alienEnd ?? '127.0.1.200' },
    },
  };
}

interface Harness {
  gh: TestGatehouse;
  dhcp: DhcpServer;
  peer: RelayPeer;
  port: number;
  ask(m: Omit<ClientMessage, 'giaddr'>): Promise<ReturnType<typeof viewReply> | undefined>;
  metric(name: string, labels?: Record<string, string>): Promise<number>;
}

async function start(t: Parameters<typeof startGatehouse>[0], cfg = loopConfig()): Promise<Harness> {
  const gh = await startGatehouse(t, cfg);
  const dhcp = gh.app.service<DhcpServer>('dhcp');
  if (!dhcp) throw new Error('dhcp service not started');
  const peer = await RelayPeer.open();
  t.teardown(() => peer.close());
  const port = dhcp.relayPort!;
  return {
    gh,
    dhcp,
    peer,
    port,
    async ask(m) {
      const b = await peer.exchange(clientBytes({ ...m, giaddr: RELAY }), port, 1500);
      return b ? viewReply(b) : undefined;
    },
    async metric(name, labels = {}) {
      const text = await gh.app.metrics.text();
      const want = Object.entries(labels)
        .map(([k, v]) => `${k}="${v}"`)
        .join(',');
      for (const line of text.split('\n')) {
        const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
        if (m && m[1] === name && (m[2] ?? '') === want) return Number(m[3]);
      }
      return 0;
    },
  };
}

t.test('relayed DORA for a known machine and an alien, answered to the relay', async (t) => {
  const h = await start(t);
  await h.gh.app.store.write((tx) => tx.put(machinesTable(h.gh.app.store), KNOWN.hostname, KNOWN));
  const offer = await h.ask({ type: 'DISCOVER', mac: KNOWN.mac, xid: 11, prl: [1, 3, 6, 12, 15, 175] });
  t.match(offer, {
    type: 'OFFER',
    xid: 11,
    yiaddr: '192.168.0.1',
    hostname: 'pas-r01p01',
    giaddr: RELAY,
    serverId: '127.0.0.1',
    ipxe: { 176: 1 },
  });
  const ack = await h.ask({
    type: 'REQUEST',
    mac: KNOWN.mac,
    xid: 12,
    serverId: '127.0.0.1',
    requested: '192.168.0.1',
  });
  t.match(ack, { type: 'ACK', xid: 12, yiaddr: '192.168.0.1', leaseTime: 14400 });
  const agent = Uint8Array.of(1, 3, 0x65, 0x74, 0x68);
  const a = await h.ask({ type: 'DISCOVER', mac: '02:00:00:00:77:01', relayAgent: agent, prl: [1, 3, 175] });
  t.match(a, {
    type: 'OFFER',
    leaseTime: 30,
    mask: '255.255.0.0',
    router: '127.0.255.254',
    ipxe: { 81: 'alien' },
    relayAgent: '0103657468',
  });
  const aa = await h.ask({
    type: 'REQUEST',
    mac: '02:00:00:00:77:01',
    serverId: '127.0.0.1',
    requested: a!.yiaddr,
  });
  t.match(aa, { type: 'ACK', yiaddr: a!.yiaddr });
  const line = h.gh.logs.find((l) => l.event === 'dhcp.ack' && l.case === 'alien');
  t.match(line, {
    mac: '02:00:00:00:77:01',
    ip: a!.yiaddr,
    state: 'selecting',
    via: 'relay-socket',
    giaddr: RELAY,
    file: 'prologin.kpxe',
  });
  t.equal(await h.metric('gatehouse_dhcp_replies_total', { type: 'ACK', case: 'alien' }), 1);
  t.equal(await h.metric('gatehouse_dhcp_received_total', { type: 'DISCOVER' }), 2);
  t.equal(await h.metric('gatehouse_dhcp_leases', { state: 'bound' }), 1);
});

t.test('scenario 36 in-process: registering the alien MAC in MDB applies to its next DISCOVER', async (t) => {
  const h = await start(t);
  const mac = '52:54:00:12:34:56';
  const first = await h.ask({ type: 'DISCOVER', mac, prl: [1, 175] });
  t.match(first, { yiaddr: /^127\.0\.1\./, ipxe: { 81: 'alien' } });
  await h.ask({ type: 'REQUEST', mac, serverId: '127.0.0.1', requested: first!.yiaddr });
  await h.gh.app.store.write((tx) =>
    tx.put(machinesTable(h.gh.app.store), 'newmachine', machine('newmachine', mac, '192.168.0.5')),
  );
  const second = await h.ask({ type: 'DISCOVER', mac, prl: [1, 175] });
  t.match(second, { type: 'OFFER', yiaddr: '192.168.0.5', hostname: 'newmachine' });
  t.notOk(second?.ipxe?.[81], 'no scriptlet any more');
  await h.gh.app.store.write((tx) => tx.delete(machinesTable(h.gh.app.store), 'newmachine'));
  t.match(
    await h.ask({ type: 'DISCOVER', mac }),
    { yiaddr: first!.yiaddr },
    'deleted from MDB: alien again, same lease',
  );
});

t.test(
  'malformed datagrams are counted and logged, never answered, and the server keeps serving',
  async (t) => {
    const h = await start(t);
    h.peer.send(Buffer.from('definitely not dhcp'), h.port);
    const truncated = clientBytes({ type: 'DISCOVER', mac: '02:00:00:00:77:02', giaddr: RELAY }).subarray(
      0,
      245,
    );
    truncated[244] = 200;
    h.peer.send(truncated, h.port);
    const badType = clientBytes({ type: 'DISCOVER', mac: '02:00:00:00:77:02', giaddr: RELAY });
    badType[242] = 99; // option 53 value
    h.peer.send(badType, h.port);
    const samples = fc.sample(fc.uint8Array({ minLength: 0, maxLength: 600 }), 300);
    for (const s of samples) h.peer.send(s, h.port);
    t.equal(await h.peer.next(500), undefined, 'nothing answered');
    const ok = await h.ask({ type: 'DISCOVER', mac: '02:00:00:00:77:03' });
    t.match(ok, { type: 'OFFER' }, 'still serving');
    t.equal((await h.metric('gatehouse_dhcp_malformed_total', { reason: 'too-short' })) >= 1, true);
    t.equal((await h.metric('gatehouse_dhcp_malformed_total', { reason: 'option-overrun' })) >= 1, true);
    t.equal((await h.metric('gatehouse_dhcp_malformed_total', { reason: 'bad-option' })) >= 1, true);
    t.ok(
      h.gh.logs.some(
        (l) =>
          l.event === 'dhcp.malformed' && l.reason === 'bad-option' && /option 53/.test(String(l.detail)),
      ),
    );
    const lines = h.gh.logs.filter((l) => l.event === 'dhcp.malformed').length;
    t.ok(lines <= 25, `malformed lines are rate-limited (${lines} lines for ~300 datagrams)`);
  },
);

t.test('pool exhaustion: no offer, a clear log line and a metric', async (t) => {
  const h = await start(t, loopConfig({ alienEnd: '127.0.1.2' }));
  t.match(await h.ask({ type: 'DISCOVER', mac: '02:00:00:00:66:01' }), { type: 'OFFER' });
  t.match(await h.ask({ type: 'DISCOVER', mac: '02:00:00:00:66:02' }), { type: 'OFFER' });
  t.equal(await h.ask({ type: 'DISCOVER', mac: '02:00:00:00:66:03' }), undefined, 'no offer');
  t.equal(await h.metric('gatehouse_dhcp_pool_exhausted_total'), 1);
  t.equal(await h.metric('gatehouse_dhcp_dropped_total', { reason: 'pool-exhausted' }), 1);
  const line = h.gh.logs.find((l) => l.event === 'dhcp.drop' && l.reason === 'pool-exhausted');
  t.match(line, { level: 'warn', mac: '02:00:00:00:66:03', pool: '127.0.1.1-127.0.1.2', hint: /widen/ });
});

t.test('leases survive a restart; `gatehouse leases` lists them', async (t) => {
  const dataDir = tempDir(t);
  const mac = '02:00:00:00:55:01';
  let addr: string;
  {
    const h = await start(t, loopConfig({ dataDir }));
    const o = await h.ask({ type: 'DISCOVER', mac });
    addr = o!.yiaddr;
    t.match(
      await h.ask({
        type: 'REQUEST',
        mac,
        serverId: '127.0.0.1',
        requested: addr,
        extra: [[12, Buffer.from('box1')]],
      }),
      { type: 'ACK' },
    );
    await h.gh.app.stop();
  }
  const h2 = await start(t, loopConfig({ dataDir }));
  t.notOk(
    h2.gh.logs.some((l) => l.event === 'dhcp.probation'),
    'a clean stop needs no probation',
  );
  t.match(
    await h2.ask({ type: 'DISCOVER', mac }),
    { type: 'OFFER', yiaddr: addr },
    'same address after the restart',
  );
  const other = await h2.ask({ type: 'REQUEST', mac: '02:00:00:00:55:02', requested: addr });
  t.match(other, { type: 'NAK' }, 'and nobody else can take it');
  await h2.gh.app.stop();
  const out: string[] = [];
  const io = { out: (l: string) => out.push(l), err: (l: string) => out.push(`ERR ${l}`) };
  t.equal(await leases(['--data', dataDir, '--json'], io), 0);
  const json = JSON.parse(out.join('\n')) as { leases: Array<Record<string, unknown>> };
  t.match(json.leases, [{ ip: addr, mac, state: 'bound', status: 'active', hostname: 'box1' }]);
  out.length = 0;
  t.equal(await leases(['--data', dataDir], io), 0);
  t.match(out[0], /^ADDRESS\s+MAC\s+STATUS\s+EXPIRES/);
  t.match(out[1], new RegExp(`^${addr.replace(/\./g, '\\.')}\\s+${mac}\\s+active\\s+`));
});

t.test('after an unclean stop: probation for new aliens, the lease owner is still served', async (t) => {
  const dataDir = tempDir(t);
  const store = await Store.open({ dir: dataDir, migrations: allMigrations });
  const now = Date.now();
  await store.write((tx) => {
    tx.put(stateTable, 'engine', { running: true, startedAt: now - 60_000, maxLeaseTime: 30 });
    tx.put(leasesTable, '127.0.1.7', {
      ip: '127.0.1.7',
      mac: '02:00:00:00:44:01',
      clientId: null,
      hostname: null,
      state: 'bound',
      starts: now - 5000,
      expires: now + 25_000,
      updatedAt: now - 5000,
    });
  });
  await store.close();
  const h = await start(t, loopConfig({ dataDir }));
  t.match(
    h.gh.logs.find((l) => l.event === 'dhcp.probation'),
    { level: 'warn' },
  );
  t.equal(
    await h.ask({ type: 'DISCOVER', mac: '02:00:00:00:44:02' }),
    undefined,
    'no new address during probation',
  );
  t.match(
    h.gh.logs.find((l) => l.event === 'dhcp.drop' && l.reason === 'probation'),
    { mac: '02:00:00:00:44:02' },
  );
  t.match(await h.ask({ type: 'DISCOVER', mac: '02:00:00:00:44:01' }), {
    type: 'OFFER',
    yiaddr: '127.0.1.7',
  });
  t.match(
    await h.ask({ type: 'REQUEST', mac: '02:00:00:00:44:03', ciaddr: '127.0.1.9' }),
    { type: 'ACK', yiaddr: '127.0.1.9' },
    'a renewal whose row was lost reclaims its address',
  );
  t.equal(await h.metric('gatehouse_dhcp_probation'), 1);
});
