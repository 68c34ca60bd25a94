/**
 * The server side of bench/http/netboot-cpu.ts: Gatehouse started in this process on loopback
 * (every listener on port 0, default log level, log lines to stderr, which the bench sends to
 * /dev/null), MACHINES user machines and one RFS registered in MDB, plus the bench-only fast-path
 * prototype (fast-path-prototype.ts) on a port of its own. Prints `{"port":P,"prototypePort":Q}`, then
 * answers each line `cpu` on stdin with this process's CPU (process.cpuUsage: every thread) and
 * its RSS, one JSON line.
 *
 *   node --import tsx bench/http/netboot-server.ts MACHINES '{"maxConnectionsPerClient":1024}'
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { Gatehouse } from '../../src/app.js';
import { defaultConfig } from '../../src/config/index.js';
import { createMachine } from '../../src/mdb/machines.js';
import { machineRecord } from '../../test/helpers/records.js';
import { startBareNodeHttp, startFastPathPrototype } from './fast-path-prototype.js';
import { benchIp, benchMac } from './machines.js';

async function main(): Promise<void> {
  const machines = Number(process.argv[2] ?? '1000');
  const httpOverrides = JSON.parse(process.argv[3] ?? '{}') as Record<string, unknown>;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ghhttp-cpu-'));
  const tftpRoot = path.join(dir, 'tftp');
  fs.mkdirSync(tftpRoot);
  const config = defaultConfig({
    demo: { seed: false },
    dataDir: path.join(dir, 'data'),
    http: { listen: ['127.0.0.1:0'], ...httpOverrides },
    dns: { listen: ['127.0.0.1:0'] },
    dhcp: { listen: '127.0.0.1:0' },
    tftp: { listen: ['127.0.0.1:0'], root: tftpRoot },
  });
  const app = await Gatehouse.start({ config });
  await app.store.write((tx) => {
    createMachine(tx, {
      ...machineRecord({
        hostname: 'rhfs0',
        ip: '10.0.0.10',
        mac: 'aa:00:00:00:00:10',
        aliases: 'rhfs0,rfs0,hfs0',
        mtype: 'service',
      }),
    });
    for (let i = 0; i < machines; i++)
      createMachine(tx, { ...machineRecord({ hostname: `pas-m${i}`, ip: benchIp(i), mac: benchMac(i) }) });
  });
  const prototypePort = await startFastPathPrototype(app);
  const bareHttpPort = await startBareNodeHttp(app);
  process.stdout.write(`${JSON.stringify({ port: app.http.port, prototypePort, bareHttpPort })}\n`);
  const stop = async () => {
    await app.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  for await (const line of readline.createInterface({ input: process.stdin })) {
    if (line.trim() !== 'cpu') continue;
    const c = process.cpuUsage();
    process.stdout.write(
      `${JSON.stringify({ user: c.user, system: c.system, rss: process.memoryUsage().rss })}\n`,
    );
  }
  await stop();
}

void main();
