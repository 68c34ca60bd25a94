/**
 * CPU per DORA of the DHCP server's own code, without sockets or kernel: the service runs
 * in-process on a real store, perfdhcp-shaped relayed DISCOVER/REQUEST pairs go straight into
 * `DhcpServer.handle`, replies are captured instead of sent, and the lease writer commits after
 * every batch (as its flush window does under load). Load-independent enough to compare code
 * changes on this shared box (process CPU time, all threads: LMDB's writer thread included).
 *
 *   node --import tsx bench/dhcp/hot-path.ts [--dora 10000] [--batch 40] [--warmup 10000] [--runs 5]
 *   (the pool holds 65k addresses: warmup + runs × dora must stay below)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultConfig } from '../../src/config/index.js';
import { OPT } from '../../src/dhcp/codec.js';
import { DhcpServer } from '../../src/dhcp/server.js';
import type { Inbound } from '../../src/dhcp/transport.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics.js';
import { allMigrations } from '../../src/migrations.js';
import { Store } from '../../src/store/index.js';
import { clientBytes } from '../../test/dhcp/helpers.js';
import { arg } from '../cli-args.js';

const DORA = Number(arg('dora', '10000'));
const BATCH = Number(arg('batch', '40'));
const WARMUP = Number(arg('warmup', '10000'));
const RUNS = Number(arg('runs', '5'));
/** `--no-persist`: lease rows are not written (isolates their cost). */
const PERSIST = !process.argv.includes('--no-persist');

const RELAY = '10.10.255.1';
const SERVER = '10.10.255.254';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ghdq-hot-'));
const store = await Store.open({ dir, migrations: allMigrations });
const config = defaultConfig({
  dataDir: dir,
  demo: { seed: false },
  log: { level: 'warn' },
  network: { alien: '10.10.0.0/16', alienGateway: SERVER },
  dhcp: {
    listen: `${SERVER}:0`,
    alien: { rangeStart: '10.10.0.1', rangeEnd: '10.10.254.254', leaseTime: 3600 },
  },
});
const dhcp = new DhcpServer({
  config,
  store,
  logger: createLogger({ level: 'warn', sink: () => {} }),
  metrics: new Metrics(),
});
// The relay socket binds SERVER:0, which only exists in the bench namespace: bind loopback instead.
(config.dhcp as { listen: string }).listen = '127.0.0.1:0';
await dhcp.start();

let lastReply: Uint8Array | undefined;
let replies = 0;
let acks = 0;
const types: number[] = [];
const transport = (dhcp as unknown as { transports: Array<{ send: unknown }> }).transports[0]!;
transport.send = (_to: unknown, _src: unknown, payload: Uint8Array) => {
  lastReply = payload;
  replies++;
  // Option 53 is the first option of every reply (byte 242 = its value); ACKs may come later,
  // once their lease row is committed.
  if (payload[242] === 5) acks++;
  types[payload[242]!] = (types[payload[242]!] ?? 0) + 1;
};

/**
 * perfdhcp's relayed messages: 53, 55 (1 28 2 3 15 6 12), 61; the REQUEST adds 50 and 54. Built
 * before timing; the REQUEST's option 50 is patched with the offered address in place.
 */
interface Client {
  discover: Inbound;
  request: Inbound;
  /** Offset of option 50's value in the REQUEST payload. */
  requestedAt: number;
}

function clients(n: number, offset: number): Client[] {
  const out: Client[] = [];
  const hex2 = (v: number) => (v & 255).toString(16).padStart(2, '0');
  for (let i = 0; i < n; i++) {
    const k = offset + i;
    const mac = `02:00:${hex2(k >>> 24)}:${hex2(k >>> 16)}:${hex2(k >>> 8)}:${hex2(k)}`;
    const cid = `01${mac.replace(/:/g, '')}`;
    const common = { mac, xid: k, giaddr: RELAY, prl: [1, 28, 2, 3, 15, 6, 12], clientId: cid };
    const request = clientBytes({ ...common, type: 'REQUEST', requested: '0.0.0.0', serverId: '127.0.0.1' });
    let at = 240;
    while (request[at] !== OPT.REQUESTED_IP) at += 2 + request[at + 1]!;
    out.push({
      discover: inbound(clientBytes({ ...common, type: 'DISCOVER' })),
      request: inbound(request),
      requestedAt: at + 2,
    });
  }
  return out;
}

function inbound(payload: Buffer): Inbound {
  return { payload, src: 0x0a0aff01, srcPort: 67, dst: 0x7f000001, iface: undefined, broadcast: false };
}

const writer = (dhcp as unknown as { writer: { drain(): Promise<void>; persist(r: unknown): void } }).writer;
if (!PERSIST) writer.persist = () => {};

async function run(n: number, offset: number): Promise<{ us: number; wallUs: number }> {
  const all = clients(n, offset);
  const start = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i += BATCH) {
    for (let j = i; j < Math.min(n, i + BATCH); j++) {
      const c = all[j]!;
      lastReply = undefined;
      dhcp.handle(c.discover);
      const offer = lastReply as Uint8Array | undefined;
      if (!offer) throw new Error('no OFFER');
      c.request.payload.set(offer.subarray(16, 20), c.requestedAt);
      dhcp.handle(c.request);
    }
    await writer.drain();
  }
  if (acks !== offset + n - ACKS_BEFORE)
    throw new Error(`${JSON.stringify(types)} ${acks} ACKs for ${offset + n - ACKS_BEFORE} REQUESTs`);
  const cpu = process.cpuUsage(start);
  const wall = Number(process.hrtime.bigint() - t0) / 1000;
  return { us: (cpu.user + cpu.system) / n, wallUs: wall / n };
}

const ACKS_BEFORE = 0;
let offset = 0;
if (WARMUP > 0) {
  await run(WARMUP, offset);
  offset += WARMUP;
}
const results: number[] = [];
for (let r = 0; r < RUNS; r++) {
  const { us, wallUs } = await run(DORA, offset);
  offset += DORA;
  results.push(us);
  console.log(
    `run ${r + 1}: ${us.toFixed(2)} us CPU / DORA (${wallUs.toFixed(2)} us wall), ${replies} replies`,
  );
}
results.sort((a, b) => a - b);
// The minimum is the run least disturbed by other jobs on this shared box; the median for reference.
console.log(
  `min ${results[0]!.toFixed(2)} median ${results[Math.floor(results.length / 2)]!.toFixed(2)} us CPU per DORA (userland, no sockets)`,
);
await dhcp.stop();
await store.close();
fs.rmSync(dir, { recursive: true, force: true });
