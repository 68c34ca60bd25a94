/**
 * Soak: one Gatehouse (`gatehouse serve` from the production build, on loopback) under mixed
 * load for 10 minutes — DNS (UDP, TCP), DHCP (new aliens, renewals), TFTP downloads,
 * mdbsync/udbsync/presencesync subscribers, MDB/UDB writers, RPC, SSO, heartbeats of 1000
 * machines, logout/login cycles — and a hostile share (malformed datagrams of each protocol,
 * idle and dripping TCP DNS connections, slow and aborted chunked HTTP bodies, junk HTTP).
 * Samples the RSS of the process tree (main + DNS workers) every second.
 *
 *   node --import tsx bench/soak/run.ts [--minutes 10] [--machines 1000] [--dns-workers N|auto] [--keep]
 *                                       [--node-args "--heapsnapshot-signal=SIGUSR2"]
 *
 * Asserts (exit 1 otherwise): RSS after the first minute stays within +10 % of its value at
 * 1 min, no error-level log line, no request slower than 1 s (a request without an answer
 * counts as slower). Prints peak RSS and every kind of traffic's count, failures, p50/p99/max.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startHostile } from './hostile.js';
import { dispatcher, startLoads } from './loads.js';
import { TreeRssSampler } from './rss.js';
import { startSoakServer } from './server.js';
import { Registry } from './stats.js';
import { arg } from '../cli-args.js';

const MINUTES = Number(arg('minutes', '10'));
const MACHINES = Number(arg('machines', '1000'));
const DNS_WORKERS = arg('dns-workers', '');
const KEEP = process.argv.includes('--keep');
/** Extra Node.js flags for Gatehouse, e.g. `--node-args --heapsnapshot-signal=SIGUSR2`. */
const NODE_ARGS = arg('node-args', '').split(' ').filter(Boolean);
const mb = (kb: number) => `${(kb / 1024).toFixed(1)} MiB`;

const { dir, files, ports, gh } = await startSoakServer({
  name: 'soak',
  machines: MACHINES,
  dnsWorkers: DNS_WORKERS,
  nodeArgs: NODE_ARGS,
});
const startedAt = Date.now();
const sampler = new TreeRssSampler(gh.pid);
console.log(
  `gatehouse pid ${gh.pid}, processes ${sampler.pids().length} (main + DNS workers), ${MINUTES} min, ${MACHINES} machines, ${os.availableParallelism()} cores; ports ${JSON.stringify(ports)}`,
);

const stats = new Registry();
const stopLoads = startLoads({ ports, machines: MACHINES, stats, files }, startedAt);
const stopHostile = startHostile({ ports, stats });

const progress = setInterval(() => {
  const s = sampler.samples.at(-1)!;
  const requests = [...stats.kinds.values()].filter((k) => !k.hostile).reduce((a, k) => a + k.count, 0);
  console.log(
    `${(s.t / 60).toFixed(1)} min: RSS ${mb(s.rssKb)} (${s.perProcessKb.map(mb).join(' + ')}), ${requests} requests, ${gh.errorLines.length} error lines`,
  );
}, 60_000);

await new Promise((r) => setTimeout(r, MINUTES * 60_000));
clearInterval(progress);
stopHostile();
stopLoads();
await new Promise((r) => setTimeout(r, 2000)); // answers in flight
sampler.stop();
const exit = await gh.stop();
await dispatcher.close();

// --- report -------------------------------------------------------------------------------
const oneMin = sampler.at(60);
const later = sampler.peak(60);
const peak = sampler.peak();
const last = sampler.samples.at(-1)!;
const psses = sampler.samples.filter((s) => s.pssKb !== undefined);
const growth = later.rssKb / oneMin.rssKb - 1;

console.log(
  '\ntraffic                                          count  failed  slow>1s   p50 ms   p99 ms   max ms',
);
let slow = 0;
for (const k of stats.kinds.values()) {
  if (!k.hostile) slow += k.slow + k.failed;
  console.log(
    `${k.name.padEnd(46)} ${String(k.count).padStart(8)} ${String(k.failed).padStart(7)} ${k.hostile ? '      –' : String(k.slow).padStart(8)} ${k.hostile ? '' : `${k.percentile(0.5).toFixed(1).padStart(8)} ${k.percentile(0.99).toFixed(1).padStart(8)} ${k.maxMs.toFixed(1).padStart(8)}`}`,
  );
  for (const [reason, n] of k.reasons) console.log(`    ${n} × ${reason}`);
}
console.log(`
RSS of the tree (main + DNS workers): start ${mb(sampler.samples[0]!.rssKb)}, at 1 min ${mb(oneMin.rssKb)}, highest after 1 min ${mb(later.rssKb)} (${(growth * 100).toFixed(1)} %, at ${(later.t / 60).toFixed(1)} min), end ${mb(last.rssKb)}
peak RSS ${mb(peak.rssKb)} (${peak.perProcessKb.map(mb).join(' + ')}) at ${(peak.t / 60).toFixed(1)} min; peak PSS ${mb(Math.max(...psses.map((s) => s.pssKb!)))}
log: ${gh.logLines} lines, ${gh.warnCount} warn, ${gh.errorLines.length} error; exit code after SIGTERM ${exit}`);
for (const [event, n] of [...gh.events].sort((a, b) => b[1] - a[1]))
  console.log(`  ${String(n).padStart(6)} × ${event}`);
for (const l of gh.errorLines.slice(0, 5)) console.log(`  ${l.slice(0, 300)}`);

const checks: Array<[string, boolean]> = [
  [`RSS after the first minute within +10 % (${(growth * 100).toFixed(1)} %)`, growth <= 0.1],
  [`no error-level log line (${gh.errorLines.length})`, gh.errorLines.length === 0],
  [`no request slower than 1 s or unanswered (${slow})`, slow === 0],
  ['clean stop (exit 0)', exit === 0],
];
for (const [what, ok] of checks) console.log(`${ok ? 'PASS' : 'FAIL'} ${what}`);
fs.writeFileSync(path.join(dir, 'rss.json'), JSON.stringify(sampler.samples));
if (KEEP) console.log(`kept ${dir} (rss.json: every sample)`);
else fs.rmSync(dir, { recursive: true, force: true });
process.exit(checks.every(([, ok]) => ok) ? 0 : 1);
