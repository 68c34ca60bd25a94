/**
 * Where the appliance's memory goes (docs/operations.md "Memory"): the production build with
 * `--machines` machines and as many users, idle, then after a burst of TFTP downloads and DNS
 * queries (the transfer threads are up), then — with `--idle 90` — after the threads' idle end.
 * Per process: RSS (anonymous / file-backed), PSS, the LMDB map's resident pages; for the main
 * process the V8 figures from /metrics.
 *
 *   node --import tsx bench/soak/memory.ts [--machines 1000] [--dns-workers 0|N|auto] [--idle 90]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as dnsPacket from 'dns-packet';
import { request } from 'undici';
import { tftpGet } from '../../src/tftp/client.js';
import { OPTIONS, childrenOf, kb, readProc } from '../tftp/procs.js';
import { machineName, startSoakServer } from './server.js';
import { arg } from '../cli-args.js';

const MACHINES = Number(arg('machines', '1000'));
const DNS_WORKERS = arg('dns-workers', '0');
const IDLE = Number(arg('idle', '0'));
const mib = (k: number) => `${(k / 1024).toFixed(1)}`;

const { dir, dataDir, files, ports, gh } = await startSoakServer({
  name: 'mem',
  machines: MACHINES,
  dnsWorkers: DNS_WORKERS,
});
process.on('exit', () => gh.proc.kill('SIGKILL'));

/** Resident pages of the LMDB data file mapped in `pid`, kB. */
function lmdbResidentKb(pid: number): number {
  const smaps = readProc(pid, 'smaps') ?? '';
  let inMap = false;
  let total = 0;
  for (const line of smaps.split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) inMap = line.endsWith('gatehouse.mdb');
    else if (inMap && line.startsWith('Rss:')) total += Number(line.split(/\s+/)[1]);
  }
  return total;
}

async function report(title: string): Promise<void> {
  console.log(`\n${title}`);
  console.log('process                 RSS MiB  anon  file   PSS  LMDB map  threads');
  let rss = 0;
  let pss = 0;
  for (const [i, pid] of [gh.pid, ...childrenOf(gh.pid)].entries()) {
    const status = readProc(pid, 'status');
    const p = kb(readProc(pid, 'smaps_rollup'), 'Pss');
    rss += kb(status, 'VmRSS');
    pss += p;
    console.log(
      `${(i === 0 ? 'main' : `dns worker ${i}`).padEnd(22)} ${mib(kb(status, 'VmRSS')).padStart(8)} ${mib(kb(status, 'RssAnon')).padStart(5)} ${mib(kb(status, 'RssFile')).padStart(5)} ${mib(p).padStart(5)} ${mib(lmdbResidentKb(pid)).padStart(9)} ${String(fs.readdirSync(`/proc/${pid}/task`).length).padStart(8)}`,
    );
  }
  console.log(`${'tree'.padEnd(22)} ${mib(rss).padStart(8)}             ${mib(pss).padStart(5)}`);
  const text = await (await request(`http://127.0.0.1:${ports.http}/metrics`)).body.text();
  const metric = (name: string) =>
    Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  console.log(
    `main V8: heap used ${(metric('gatehouse_nodejs_heap_size_used_bytes') / 1048576).toFixed(1)} of ${(metric('gatehouse_nodejs_heap_size_total_bytes') / 1048576).toFixed(1)} MiB, external ${(metric('gatehouse_nodejs_external_memory_bytes') / 1048576).toFixed(1)} MiB; TFTP threads ${metric('gatehouse_tftp_workers')}; LMDB file ${(fs.statSync(path.join(dataDir, 'gatehouse.mdb')).size / 1048576).toFixed(1)} MiB`,
  );
}

await new Promise((r) => setTimeout(r, 3000));
await report(
  `idle, ${MACHINES} machines + ${MACHINES} users, dns.workers ${DNS_WORKERS}, ${os.availableParallelism()} cores`,
);

const dns = dnsPacket.encode({
  type: 'query',
  id: 1,
  questions: [{ type: 'A', name: `${machineName(1)}.prolo` }],
});
const dgram = await import('node:dgram');
const s = dgram.createSocket('udp4');
for (let i = 0; i < 2000; i++) s.send(dns, ports.dns, '127.0.0.1');
const downloads = await Promise.allSettled(
  Array.from({ length: 8 }, () =>
    tftpGet({
      host: '127.0.0.1',
      port: ports.tftp,
      file: files.big,
      options: OPTIONS,
      keepData: false,
      timeoutMs: 3000,
    }),
  ),
);
s.close();
const failed = downloads.filter((d) => d.status === 'rejected').length;
await report(
  `after 8 parallel 1 MiB TFTP downloads (the per-client limit) (${failed} failed) and 2000 DNS queries`,
);
if (IDLE > 0) {
  await new Promise((r) => setTimeout(r, IDLE * 1000));
  await report(`after ${IDLE} s idle`);
}
await gh.stop();
fs.rmSync(dir, { recursive: true, force: true });
