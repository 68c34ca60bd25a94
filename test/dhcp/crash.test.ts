/**
 * Crash safety of acknowledged leases: `gatehouse serve` (relay-only socket on loopback, no
 * root) is killed with SIGKILL right after its last ACK; every acknowledged lease must be in the
 * store, and the restart needs no probation (ACKs are sent only after their rows commit).
 */
import path from 'node:path';
import t from 'tap';
import { readEngineState, readLeases } from '../../src/dhcp/lease-store.js';
import { allMigrations } from '../../src/migrations.js';
import { Store } from '../../src/store/index.js';
import { freePort } from '../helpers/ports.js';
import { type SpawnedGatehouse, spawnGatehouse } from '../helpers/spawn-gatehouse.js';
import { tempDir } from '../helpers/tmp.js';
import { clientBytes, viewReply } from './helpers.js';
import { RelayPeer } from './relay-peer.js';

const RELAY = '127.0.0.1';

function yaml(dataDir: string, port: number, ackAfterCommit = true): string {
  return [
    `dataDir: ${dataDir}`,
    'demo: { seed: false }',
    'log: { level: info }',
    "http: { listen: ['127.0.0.1:0'] }",
    'dns: { enabled: false }',
    'tftp: { enabled: false }',
    'netboot: { enabled: false }',
    'presence: { enabled: false }',
    'sso: { enabled: false }',
    'network: { alien: 127.0.0.0/16, alienGateway: 127.0.255.254 }',
    `dhcp: { listen: '127.0.0.1:${port}', ackAfterCommit: ${ackAfterCommit}, alien: { rangeStart: 127.0.1.1, rangeEnd: 127.0.1.200, leaseTime: 3600 } }`,
    '',
  ].join('\n');
}

const mac = (i: number) => `02:00:00:00:66:${i.toString(16).padStart(2, '0')}`;

/** A data dir, a relay peer, and `start()` for `gatehouse serve` processes killed at teardown. */
async function crashHarness(t: Parameters<typeof tempDir>[0], ackAfterCommit: boolean) {
  const dir = tempDir(t, 'ghdq-crash-');
  const dataDir = path.join(dir, 'data');
  const port = await freePort();
  const peer = await RelayPeer.open();
  t.teardown(() => peer.close());
  const spawned: SpawnedGatehouse[] = [];
  t.teardown(async () => {
    // (stop() waits for an exit that already happened when a signal ended the process)
    for (const g of spawned)
      if (g.proc.exitCode === null && g.proc.signalCode === null) await g.stop('SIGKILL');
  });
  const start = async () => {
    const g = await spawnGatehouse({ configYaml: yaml(dataDir, port, ackAfterCommit), dir });
    spawned.push(g);
    await g.waitForLog((r) => r.event === 'dhcp.started');
    return g;
  };
  const ask = async (m: Parameters<typeof clientBytes>[0]) => {
    const b = await peer.exchange(clientBytes({ ...m, giaddr: RELAY }), port, 3000);
    return b ? viewReply(b) : undefined;
  };
  return { dataDir, port, peer, start, ask };
}

t.test(
  'SIGKILL right after the ACKs: every acknowledged lease is in the store',
  { timeout: 60_000 },
  async (t) => {
    const { dataDir, port, peer, start, ask } = await crashHarness(t, true);

    const g1 = await start();
    const acked = new Map<string, string>();
    // Offers first, then the REQUESTs back to back: several ACKs wait for the same commit.
    const offers: Array<[string, string]> = [];
    for (let i = 1; i <= 12; i++) {
      const offer = await ask({ type: 'DISCOVER', mac: mac(i), xid: i });
      t.equal(offer?.type, 'OFFER');
      offers.push([mac(i), offer!.yiaddr]);
    }
    const macOfXid = new Map<number, string>();
    offers.forEach(([m, addr], i) => {
      macOfXid.set(1000 + i, m);
      peer.send(
        clientBytes({
          type: 'REQUEST',
          mac: m,
          xid: 1000 + i,
          requested: addr,
          serverId: RELAY,
          giaddr: RELAY,
        }),
        port,
      );
    });
    for (let n = 0; n < offers.length; n++) {
      const ack = await peer.next(3000);
      t.ok(ack, 'an ACK for every REQUEST');
      if (!ack) break;
      const v = viewReply(ack);
      t.equal(v.type, 'ACK');
      acked.set(macOfXid.get(v.xid)!, v.yiaddr);
    }
    // The instant the last ACK arrived: no clean stop, no final flush.
    t.equal(await g1.stop('SIGKILL'), null, 'killed');

    const store = await Store.open({ dir: dataDir, migrations: allMigrations });
    const { rows, state } = store.read((tx) => ({ rows: readLeases(tx), state: readEngineState(tx) }));
    await store.close();
    t.equal(state?.running, true, 'the marker says the server did not stop cleanly');
    t.equal(state?.durableAcks, true);
    for (const [m, addr] of acked) {
      t.match(
        rows.find((r) => r.ip === addr),
        { mac: m, state: 'bound' },
        `${addr} (${m}) survived the crash`,
      );
    }

    const g2 = await start();
    t.notOk(
      g2.logs.some((l) => l.event === 'dhcp.probation'),
      'no probation: no client holds a lease the store lacks',
    );
    const again = await ask({ type: 'DISCOVER', mac: mac(3), xid: 99 });
    t.match(again, { type: 'OFFER', yiaddr: acked.get(mac(3)) }, 'a client keeps its address');
    const stranger = await ask({ type: 'DISCOVER', mac: mac(200), xid: 100 });
    t.equal(stranger?.type, 'OFFER', 'new machines are served at once');
    t.notOk([...acked.values()].includes(stranger!.yiaddr), 'and get an address nobody holds');
    await g2.stop();
  },
);

t.test(
  'with ackAfterCommit: false a crash is covered by a probation instead',
  { timeout: 60_000 },
  async (t) => {
    const { dataDir, port, peer, start } = await crashHarness(t, false);
    const g1 = await start();
    const offer = await peer.exchange(
      clientBytes({ type: 'DISCOVER', mac: mac(1), giaddr: RELAY }),
      port,
      3000,
    );
    t.equal(offer && viewReply(offer).type, 'OFFER');
    await g1.stop('SIGKILL');
    const store = await Store.open({ dir: dataDir, migrations: allMigrations });
    t.match(
      store.read((tx) => readEngineState(tx)),
      { running: true, durableAcks: false },
    );
    await store.close();
    const g2 = await start();
    t.match(
      g2.logs.find((l) => l.event === 'dhcp.probation'),
      { level: 'warn' },
      'answers that may have left before their rows: probation',
    );
    await g2.stop();
  },
);
