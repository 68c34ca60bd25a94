/**
 * `--interface IFACE`: the storm from a spare machine plugged into a real LAN, against the real
 * gateway (docs/operations.md, "Rehearsing the boot storm"). No namespaces and no server of
 * ours: the machines (MAC, IP, host name) come from `--machines FILE`, the JSON lines or array
 * `gatehouse mdb import` takes, so they must be registered on the gateway first. Server-side
 * figures are not available from here; the box counters are the spare machine's own.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseMachineFile } from '../../src/mdb/operations.js';
import { type StormRun, startStormProcess, stormDeadlineMs } from './bench.js';
import type { MachineSpec } from './machine.js';
import { busyPct, countersDelta, cpuJiffies, kernelCounters } from './probes.js';
import { type StormSummary, summarizeMachines } from './report.js';
import type { StormJob, StormOutput } from './storm.js';

export async function rehearse(opts: {
  iface: string;
  n: number;
  rate: number;
  machinesFile: string;
  prefixLen: number;
  domain: string;
}): Promise<StormRun[]> {
  if (process.getuid?.() !== 0)
    throw new Error('the rehearsal needs root (raw socket, port 68, adding addresses)');
  if (!opts.machinesFile)
    throw new Error(
      '--interface needs --machines FILE (the machines registered on the gateway: hostname, mac, ip)',
    );
  if (!fs.existsSync(`/sys/class/net/${opts.iface}`)) throw new Error(`no interface ${opts.iface}`);
  const rows = parseMachineFile(fs.readFileSync(opts.machinesFile, 'utf8')).slice(0, opts.n);
  const specs: MachineSpec[] = rows.map((r, i) => ({
    index: i,
    mac: String(r.mac).toLowerCase(),
    hostname: String(r.hostname),
    expectIp: r.ip ? String(r.ip) : undefined,
  }));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bootstorm-rehearsal-'));
  const job: StormJob = {
    iface: opts.iface,
    dhcp: { iface: opts.iface },
    prefixLen: opts.prefixLen,
    machines: specs,
    expect: { domain: opts.domain },
    rate: opts.rate,
    removeAddresses: true,
    resultsFile: path.join(dir, 'results.json'),
  };
  const jobFile = path.join(dir, 'job.json');
  fs.writeFileSync(jobFile, JSON.stringify(job));
  const storm = startStormProcess(jobFile, undefined, () => stormDeadlineMs(specs.length, opts.rate));
  try {
    await storm.ready;
    const idle0 = cpuJiffies();
    await new Promise((r) => setTimeout(r, 1000));
    const idle1 = cpuJiffies();
    const c0 = await kernelCounters(undefined);
    const j0 = cpuJiffies();
    storm.proc.stdin!.write('go\n');
    const finished = await storm.done;
    const j1 = cpuJiffies();
    const c = countersDelta(c0, await kernelCounters(undefined));
    if (!finished || !fs.existsSync(job.resultsFile))
      throw new Error('the storm did not finish within its deadline');
    const output = JSON.parse(fs.readFileSync(job.resultsFile, 'utf8')) as StormOutput;
    const m = summarizeMachines(output.results);
    const summary: StormSummary = {
      server: `gateway via ${opts.iface}`,
      run: 1,
      n: specs.length,
      ...m,
      serverCpuSeconds: Number.NaN,
      cpuMsPerBooted: Number.NaN,
      peakRssMb: Number.NaN,
      kernel: {
        udpRcvbufErrors: Number.NaN,
        udpInErrors: Number.NaN,
        listenOverflows: Number.NaN,
        listenDrops: Number.NaN,
      },
      clientUdpRcvbufErrors: c.udpRcvbufErrors,
      boxBusyBeforePct: busyPct(idle0, idle1),
      boxBusyDuringPct: busyPct(j0, j1),
      wallSeconds: output.wallMs / 1000,
      notes: ['server-side figures: read them on the gateway (gatehouse boot status, metrics, nstat)'],
    };
    return [{ summary, results: output.results, machines: [] }];
  } finally {
    if (storm.proc.exitCode === null) storm.proc.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
