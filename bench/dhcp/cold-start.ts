/**
 * What the first requests after a start cost: a fresh process starts the DHCP service on a real
 * store with N registered machines and feeds it the PXE DISCOVERs of a boot storm (as the raw
 * socket delivers them, broadcast on `lan0`), in batches of 64 as the transport reads them,
 * then their REQUESTs; prints the CPU of each of the first batches and of the whole storm.
 * Run it twice, with and without the start-up warm-up (src/dhcp/warmup.ts), each in a fresh
 * process (that is the point):
 *
 *   node --import tsx bench/dhcp/cold-start.ts [--n 1000] [--warmup-rounds 500|0]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultConfig } from '../../src/config/index.js';
import { OPT } from '../../src/dhcp/codec.js';
import { formatIp, ip } from '../../src/dhcp/ipv4.js';
import { DhcpServer } from '../../src/dhcp/server.js';
import type { Inbound } from '../../src/dhcp/transport.js';
import { createLogger } from '../../src/log.js';
import { machinesTable } from '../../src/mdb/model.js';
import { Metrics } from '../../src/metrics.js';
import { allMigrations } from '../../src/migrations.js';
import { Store } from '../../src/store/index.js';
import { clientBytes } from '../../test/dhcp/helpers.js';
import { arg } from '../cli-args.js';

const N = Number(arg('n', '1000'));
const WARMUP_ROUNDS = Number(arg('warmup-rounds', '500'));
const BATCH = 64;
const SERVER = '10.40.15.254';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ghdq-cold-'));
const store = await Store.open({ dir, migrations: allMigrations });
const hex2 = (v: number) => (v & 255).toString(16).padStart(2, '0');
const macOf = (i: number) => `02:5b:00:00:${hex2(i >>> 8)}:${hex2(i)}`;
await store.write((tx) => {
  for (let i = 0; i < N; i++) {
    tx.put(machinesTable(store), `pc${i}`, {
      hostname: `pc${i}`,
      aliases: '',
      ip: formatIp(ip('10.40.0.10') + i),
      mac: macOf(i),
      rfs: i % 4,
      hfs: 0,
      mtype: 'user',
      room: 'pasteur',
      is_faulty: false,
      is_faulty_details: '',
    });
  }
});
const config = defaultConfig({
  dataDir: dir,
  demo: { seed: false },
  log: { level: 'info' },
  network: {
    lan: '10.40.0.0/20',
    gateway: SERVER,
    cluster: '10.41.0.0/24',
    alien: '10.42.0.0/24',
    alienGateway: '10.42.0.254',
  },
  dhcp: {
    listen: '127.0.0.1:0',
    subnets: [{ network: '10.40.0.0/20', bootFile: 'undionly.kpxe' }],
    warmupRounds: WARMUP_ROUNDS,
  },
});
// Info level as in production; the lines go nowhere (their formatting still costs).
const dhcp = new DhcpServer({
  config,
  store,
  logger: createLogger({ level: 'info', sink: () => {} }),
  metrics: new Metrics(),
});
const t0 = performance.now();
await dhcp.start();
await dhcp.warmedUp();
const startMs = performance.now() - t0;
// As on lan0: the transport the replies leave through is the interface's.
let replies = 0;
const transports = (dhcp as unknown as { transports: unknown[] }).transports;
await (transports[0] as { close(): Promise<void> }).close(); // the relay socket, replaced below
transports[0] = {
  iface: 'lan0',
  addresses: () => [ip(SERVER)],
  send: () => {
    replies++;
  },
  close: async () => {},
};

const PXE = { vendorClass: 'PXEClient:Arch:00000:UNDI:002001', arch: 0, broadcastFlag: true };
const PRL = [1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 43, 60, 66, 67];
const inbound = (payload: Buffer): Inbound => ({
  payload,
  src: 0,
  srcPort: 68,
  dst: 0xffffffff,
  iface: 'lan0',
  broadcast: true,
});
const discovers = Array.from({ length: N }, (_, i) =>
  inbound(
    clientBytes({
      ...PXE,
      type: 'DISCOVER',
      mac: macOf(i),
      xid: i,
      prl: PRL,
      extra: [[OPT.MAX_MESSAGE_SIZE, Uint8Array.of(4, 0xec)]],
    }),
  ),
);
const requests = Array.from({ length: N }, (_, i) =>
  inbound(
    clientBytes({
      ...PXE,
      type: 'REQUEST',
      mac: macOf(i),
      xid: i,
      prl: PRL,
      requested: formatIp(ip('10.40.0.10') + i),
      serverId: SERVER,
    }),
  ),
);

const cpuMs = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000;
const batches: number[] = [];
const all = process.cpuUsage();
for (const list of [discovers, requests]) {
  for (let i = 0; i < list.length; i += BATCH) {
    const c0 = process.cpuUsage();
    for (let j = i; j < Math.min(list.length, i + BATCH); j++) dhcp.handle(list[j]!);
    batches.push(cpuMs(process.cpuUsage(c0)));
  }
}
const total = cpuMs(process.cpuUsage(all));
if (replies !== 2 * N) throw new Error(`${replies} replies for ${2 * N} requests`);
console.log(
  `warmupRounds ${WARMUP_ROUNDS}: start ${startMs.toFixed(0)} ms; first batches of ${BATCH} (ms CPU): ${batches
    .slice(0, 6)
    .map((b) => b.toFixed(1))
    .join(
      ' ',
    )}; ${N} DISCOVERs + ${N} REQUESTs: ${total.toFixed(1)} ms CPU (${((total * 1000) / (2 * N)).toFixed(1)} µs each)`,
);
await dhcp.stop();
await store.close();
fs.rmSync(dir, { recursive: true, force: true });
