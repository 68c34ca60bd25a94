/**
 * Gatehouse DNS alone in its own process for the bench: a fresh store in DATADIR filled with
 * the bench machines, then the same DnsService the appliance runs (with `dns.workers` UDP
 * workers). Prints `{"port":N,"pids":[...]}` once serving; stops on SIGTERM.
 *
 * usage: gatehouse-server.ts PORT WORKERS MACHINES_JSON DATADIR
 */
import cluster from 'node:cluster';
import fs from 'node:fs';
import { defaultConfig } from '../../src/config/index.js';
import { DnsService } from '../../src/dns/service.js';
import { PrefixRouter } from '../../src/http/prefix-router.js';
import { HttpServer } from '../../src/http/server.js';
import { createLogger } from '../../src/log.js';
import { type Machine, machinesTable } from '../../src/mdb/model.js';
import { Metrics } from '../../src/metrics.js';
import { allMigrations } from '../../src/migrations.js';
import { Store } from '../../src/store/index.js';

const [port, workers, machinesFile, dataDir] = process.argv.slice(2);
if (!port || !workers || !machinesFile || !dataDir)
  throw new Error('usage: gatehouse-server.ts PORT WORKERS MACHINES_JSON DATADIR');
const machines = JSON.parse(fs.readFileSync(machinesFile, 'utf8')) as Machine[];
const config = defaultConfig({
  dataDir,
  network: { lan: '192.168.0.0/22' },
  dns: { listen: [`127.0.0.1:${port}`], workers: workers === 'auto' ? 'auto' : Number(workers) },
});
const logger = createLogger({ level: 'warn' });
const metrics = new Metrics();
const store = await Store.open({ dir: dataDir, migrations: allMigrations });
await store.write((tx) => {
  for (const m of machines) tx.put(machinesTable(store), m.hostname, m);
});
const dns = new DnsService({
  config,
  store,
  logger,
  metrics,
  http: new HttpServer(logger, metrics, config.network.domain),
  routes: new PrefixRouter(),
  services: [],
});
await dns.start();
const pids = [process.pid, ...Object.values(cluster.workers ?? {}).map((w) => w!.process.pid!)];
process.stdout.write(`${JSON.stringify({ port: dns.port, pids })}\n`);
process.on('SIGTERM', () => {
  void dns
    .stop()
    .then(() => store.close())
    .then(() => process.exit(0));
});
