/**
 * The client side of a storm, one process in the client namespace (or on a spare machine's
 * interface): `storm.ts JOB.json`. Opens its sockets, adds the planned addresses, prints
 * `ready`, waits for `go` on stdin, boots every machine (all at once or at `rate` per second),
 * writes the per-machine results to `job.resultsFile` and prints `done`.
 */
import fs from 'node:fs';
import readline from 'node:readline';
import { InterfaceAddresses } from './addresses.js';
import { bootMachine, type Expectations, type MachineResult, type MachineSpec } from './machine.js';
import { RemoteDhcp } from './remote-dhcp.js';

export interface StormJob {
  iface: string;
  /** Where the DHCP client runs: a namespace without addresses (the bench) or here (a spare machine). */
  dhcp: { netns?: string; iface: string };
  prefixLen: number;
  machines: MachineSpec[];
  /**
   * Booted alone before `ready`, so every stack meets the storm warm (Node's JIT, worker
   * threads, page cache), as a gateway that has been up for a while would.
   */
  warmup?: MachineSpec;
  expect: Expectations;
  /** Machines per second; 0: all at once. */
  rate: number;
  /** Remove the added addresses at the end (a real interface; namespaces are deleted anyway). */
  removeAddresses: boolean;
  resultsFile: string;
}

export interface StormOutput {
  results: MachineResult[];
  wallMs: number;
  strayDhcpReplies: number;
  dhcpSendErrors: number;
}

const job = JSON.parse(fs.readFileSync(process.argv[2]!, 'utf8')) as StormJob;
const dhcp = new RemoteDhcp(job.dhcp.iface, job.dhcp.netns);
await dhcp.open();
const addresses = new InterfaceAddresses(job.iface, job.prefixLen);
await addresses.addAll(job.machines.flatMap((m) => (m.expectIp ? [m.expectIp] : [])));
const t0warm = performance.now();
if (job.warmup) {
  await addresses.addAll(job.warmup.expectIp ? [job.warmup.expectIp] : []);
  const w = await bootMachine(job.warmup, {
    dhcp,
    expect: job.expect,
    ensureAddress: (ip: string) => addresses.ensure(ip),
    now: () => performance.now() - t0warm,
  });
  if (!w.completed) process.stderr.write(`warm-up machine did not boot: ${w.failPhase} ${w.failReason}\n`);
}
process.stdout.write('ready\n');
const rl = readline.createInterface({ input: process.stdin });
await new Promise<void>((resolve) => rl.on('line', (l) => l.trim() === 'go' && resolve()));
rl.close();

const t0 = performance.now();
const env = {
  dhcp,
  expect: job.expect,
  ensureAddress: (ip: string) => addresses.ensure(ip),
  now: () => performance.now() - t0,
};
const results = await Promise.all(
  job.machines.map(
    (m, i) =>
      new Promise<MachineResult>((resolve) => {
        const start = () => bootMachine(m, env).then(resolve);
        if (job.rate > 0 && i > 0) setTimeout(start, (i * 1000) / job.rate);
        else start();
      }),
  ),
);
const wallMs = performance.now() - t0;
const stats = await dhcp.close();
const out: StormOutput = {
  results,
  wallMs,
  strayDhcpReplies: stats.strayReplies,
  dhcpSendErrors: stats.sendErrors,
};
fs.writeFileSync(job.resultsFile, JSON.stringify(out));
if (job.removeAddresses) await addresses.removeAll();
process.stdout.write('done\n');
// TFTP clients dally for a moment after their last ACK; nothing else is pending.
process.exit(0);
