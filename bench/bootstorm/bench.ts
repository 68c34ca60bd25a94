/**
 * One bench invocation: the topology once, then for each run and each stack a fresh server, a
 * storm process in the client namespace, the measurements around it, and the summary.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { missingCommands } from '../../test/helpers/tools.js';
import { buildProduction } from '../build.js';
import { CpuBurner } from './busy.js';
import { type MachineResult, type MachineSpec, notBooted } from './machine.js';
import { type GatehouseLaunch, type StackName, startStack } from './peers.js';
import {
  BOOT_FILE,
  BOOT_FILE_SIZE,
  expectedBootScript,
  LAN,
  type PlannedMachine,
  planMachines,
} from './plan.js';
import {
  busyPct,
  CpuGroup,
  countersDelta,
  cpuJiffies,
  GroupMemory,
  ipPackets,
  kernelCounters,
  socketDrops,
} from './probes.js';
import { type StormSummary, summarizeMachines } from './report.js';
import type { StormJob, StormOutput } from './storm.js';
import { createStormTopology, lossDrops, type StormTopology } from './topology.js';

const here = path.dirname(fileURLToPath(import.meta.url));

export interface BenchOptions {
  n: number;
  /** Machines per second; 0: all at once. */
  rate: number;
  lossPct: number;
  servers: StackName[];
  runs: number;
  busyPct: number;
  /** Namespace prefix (≤ 8 chars). */
  prefix: string;
  /**
   * Gatehouse runs from the production build (tsc into bench/out/bootstorm-dist, as the systemd
   * unit runs dist/) unless `gatehouseTsx`: then src/ under the tsx loader, as before.
   */
  gatehouseTsx?: boolean;
  /** Extra node flags for Gatehouse only (profiling: `--cpu-prof --cpu-prof-dir=…`). */
  gatehouseNodeArgs?: string[];
  /** Node without the production flags of src/runtime-flags.ts (`--gatehouse-bare-node`). */
  gatehouseBareNode?: boolean;
  /**
   * Seconds every server sits idle after its start before the storm (default 0: as soon as it
   * is quiet). A real gateway starts hours before the morning's storm; V8 may have discarded
   * code the start-up warm-ups compiled by then (bytecode flushing after a few idle GCs).
   */
  idleBeforeS?: number;
  log?: (line: string) => void;
}

export interface StormRun {
  summary: StormSummary;
  results: MachineResult[];
  machines: PlannedMachine[];
}

/** Box-wide packets dropped because a CPU's input backlog was full (/proc/net/softnet_stat, column 2). */
export function softnetDrops(): number {
  return fs
    .readFileSync('/proc/net/softnet_stat', 'utf8')
    .split('\n')
    .filter(Boolean)
    .reduce((s, l) => s + Number.parseInt(l.split(/\s+/)[1] ?? '0', 16), 0);
}

/** How long a storm may take at most: arrivals, then every phase's deadline, plus a margin. */
export function stormDeadlineMs(n: number, rate: number): number {
  return (rate > 0 ? (n / rate) * 1000 : 0) + (60 + 60 + 15 + 30 + 3) * 1000 + 60_000;
}

interface StormProcess {
  proc: ChildProcess;
  ready: Promise<void>;
  done: Promise<boolean>;
}

/** Starts storm.ts (inside `netns` when given) and waits for its `ready`. */
export function startStormProcess(
  jobFile: string,
  netns: string | undefined,
  deadlineMs: () => number,
  group?: CpuGroup,
): StormProcess {
  const node = [process.execPath, '--import', 'tsx', path.join(here, 'storm.ts'), jobFile];
  const argv = netns ? ['ip', 'netns', 'exec', netns, ...node] : node;
  // In `group` (the storm and its DHCP agent): the harness's own CPU, to tell a starved client.
  // At nice -10: the machines it plays each have a CPU of their own; on a shared box a starved
  // client would fire its retransmission timers before reading the answers waiting for it
  // (Node runs due timers first), and count the box's load against the server.
  const join = group?.procsFile ? `echo $$ > ${group.procsFile}; ` : '';
  const proc = spawn('sh', ['-c', `${join}exec nice -n -10 "$@"`, 'sh', ...argv], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  const seen = (word: string) =>
    new Promise<boolean>((resolve) => {
      const check = () => {
        if (out.split('\n').includes(word)) resolve(true);
      };
      proc.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        check();
      });
      proc.on('exit', () => {
        check();
        resolve(false);
      });
    });
  const ready = seen('ready').then((ok) => {
    if (!ok) throw new Error('the storm process exited before it was ready');
  });
  const doneSeen = seen('done');
  const done: Promise<boolean> = ready.then(
    () =>
      new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          proc.kill('SIGKILL');
          resolve(false);
        }, deadlineMs());
        void doneSeen.then((ok) => {
          clearTimeout(timer);
          resolve(ok);
        });
      }),
    () => false,
  );
  return { proc, ready, done };
}

function unfinished(machines: readonly MachineSpec[], reason: string): MachineResult[] {
  return machines.map((m) => ({ ...notBooted(m, 0), failPhase: 'dhcp-pxe', failReason: reason }));
}

/** Reads the storm's output; JSON turns NaN into null, which becomes NaN again here. */
function readOutput(file: string): StormOutput | undefined {
  if (!fs.existsSync(file)) return undefined;
  const out = JSON.parse(fs.readFileSync(file, 'utf8')) as StormOutput;
  for (const r of out.results) {
    for (const [k, v] of Object.entries(r))
      if (v === null) (r as unknown as Record<string, unknown>)[k] = Number.NaN;
  }
  return out;
}

async function oneStorm(
  topo: StormTopology,
  opts: BenchOptions,
  server: StackName,
  run: number,
  bootFile: Buffer,
  machines: PlannedMachine[],
  gatehouse: GatehouseLaunch,
): Promise<StormRun> {
  const log = opts.log ?? (() => {});
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bootstorm-${server}-`));
  fs.chmodSync(dir, 0o755);
  const tftpRoot = path.join(dir, 'tftp');
  fs.mkdirSync(tftpRoot, { mode: 0o755 });
  fs.writeFileSync(path.join(tftpRoot, BOOT_FILE), bootFile, { mode: 0o644 });
  const burner = new CpuBurner(opts.busyPct);
  const clientGroup = new CpuGroup('bootstorm-clients');
  let storm: StormProcess | undefined;
  // Flush the neighbour table, so every stack starts with the same cold ARP cache.
  await topo.server.exec('ip', ['neigh', 'flush', 'dev', topo.serverIface], { allowFail: true });
  const stack = await startStack(server, {
    ns: topo.server,
    iface: topo.serverIface,
    dir,
    tftpRoot,
    machines,
    gatehouse,
  });
  try {
    if (opts.idleBeforeS) {
      log(`${server}: idle ${opts.idleBeforeS} s before the storm`);
      await new Promise((r) => setTimeout(r, opts.idleBeforeS! * 1000));
    }
    const spec = (m: PlannedMachine): MachineSpec => ({
      index: m.index,
      mac: m.mac,
      hostname: m.hostname,
      expectIp: m.ip,
      expectScript: expectedBootScript(m),
    });
    const specs: MachineSpec[] = machines.slice(0, opts.n).map(spec);
    const job: StormJob = {
      iface: topo.clientIface,
      dhcp: { netns: topo.dhcpClient.name, iface: topo.clientIface },
      prefixLen: LAN.prefixLen,
      machines: specs,
      warmup: spec(machines[opts.n]!),
      expect: { bootFileSize: bootFile.length, domain: LAN.domain, netbootIp: LAN.server },
      rate: opts.rate,
      removeAddresses: false,
      resultsFile: path.join(dir, 'results.json'),
    };
    const jobFile = path.join(dir, 'job.json');
    fs.writeFileSync(jobFile, JSON.stringify(job));
    storm = startStormProcess(
      jobFile,
      topo.client.name,
      () => stormDeadlineMs(opts.n, opts.rate),
      clientGroup,
    );
    await storm.ready;
    // A second of the box as it is, before our storm (and before the burner).
    const idle0 = cpuJiffies();
    await new Promise((r) => setTimeout(r, 1000));
    const idle1 = cpuJiffies();
    burner.start();
    if (opts.busyPct > 0) await new Promise((r) => setTimeout(r, 500));
    const lost0 = await lossDrops(topo);
    const memory = new GroupMemory(stack.group);
    const k0 = await kernelCounters(topo.server);
    const ip0 = await ipPackets(topo.server);
    const c0 = await kernelCounters(topo.client);
    const d0 = await kernelCounters(topo.dhcpClient);
    const soft0 = softnetDrops();
    const cpu0 = stack.group.seconds();
    const sys0 = stack.group.systemSeconds();
    const clientCpu0 = clientGroup.seconds();
    const j0 = cpuJiffies();
    memory.start();
    storm.proc.stdin!.write('go\n');
    const finished = await storm.done;
    const j1 = cpuJiffies();
    const cpu = stack.group.seconds() - cpu0;
    const sys = stack.group.systemSeconds() - sys0;
    const clientCpu = clientGroup.seconds() - clientCpu0;
    memory.stop();
    burner.stop();
    const kernel = countersDelta(k0, await kernelCounters(topo.server));
    const ip1 = await ipPackets(topo.server);
    // Both client namespaces: the DHCP agent's socket on port 68 takes every broadcast reply.
    const clientDrops =
      countersDelta(c0, await kernelCounters(topo.client)).udpRcvbufErrors +
      countersDelta(d0, await kernelCounters(topo.dhcpClient)).udpRcvbufErrors;
    const soft = softnetDrops() - soft0;
    const output = finished ? readOutput(job.resultsFile) : undefined;
    const results = output?.results ?? unfinished(specs, 'bench-deadline');
    const m = summarizeMachines(results);
    const notes = stack.notes();
    if (stack.group.exact)
      notes.push(`server CPU ${(cpu - sys).toFixed(2)} s user + ${sys.toFixed(2)} s system (kernel)`);
    notes.push(
      `server namespace IP packets: ${ip1.in - ip0.in} in, ${ip1.out - ip0.out} out (${((ip1.in - ip0.in + ip1.out - ip0.out) / opts.n).toFixed(0)} per machine)`,
    );
    notes.push(`bench clients used ${clientCpu.toFixed(2)} s of CPU`);
    const drops = await socketDrops(topo.server);
    if (drops.length) notes.push(`server sockets that dropped (since start): ${drops.join(', ')}`);
    if (opts.lossPct > 0)
      notes.push(`--loss dropped ${(await lossDrops(topo)) - lost0} of the server's packets`);
    if (soft > 0) notes.push(`box-wide softnet backlog drops ${soft}`);
    if (output?.dhcpSendErrors) notes.push(`client DHCP send errors ${output.dhcpSendErrors}`);
    const summary: StormSummary = {
      server,
      run,
      n: opts.n,
      ...m,
      serverCpuSeconds: cpu,
      cpuMsPerBooted: m.completed > 0 ? (cpu * 1000) / m.completed : Number.NaN,
      peakRssMb: memory.peakKb / 1024,
      kernel,
      clientUdpRcvbufErrors: clientDrops,
      boxBusyBeforePct: busyPct(idle0, idle1),
      boxBusyDuringPct: busyPct(j0, j1),
      wallSeconds: (output?.wallMs ?? Number.NaN) / 1000,
      notes,
    };
    log(`${server} run ${run}: ${m.completed}/${opts.n} booted`);
    return { summary, results, machines };
  } finally {
    burner.stop();
    if (storm && storm.proc.exitCode === null) storm.proc.kill('SIGKILL');
    await stack.stop();
    await clientGroup.remove();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export type Cleanup = () => Promise<void>;

/**
 * Runs every (run, server) storm. `onCleanup` receives the teardown so a caller can run it on
 * SIGINT; it is also run at the end, whatever happens.
 */
export async function runBench(opts: BenchOptions, onCleanup?: (c: Cleanup) => void): Promise<StormRun[]> {
  if (process.getuid?.() !== 0)
    throw new Error('bench/bootstorm needs root (network namespaces, raw sockets)');
  const tools: Record<StackName, string[]> = {
    gatehouse: [],
    dnsmasq: ['dnsmasq', 'nginx'],
    kea: ['kea-dhcp4', 'in.tftpd', 'dnsmasq', 'nginx'],
  };
  const missing = missingCommands([
    'ip',
    'ss',
    ...(opts.lossPct > 0 ? ['nft'] : []),
    ...opts.servers.flatMap((s) => tools[s]),
  ]);
  if (missing) throw new Error(`bench/bootstorm: ${missing}`);
  const gatehouse: GatehouseLaunch = {
    nodeArgs: opts.gatehouseNodeArgs ?? [],
    bareNode: opts.gatehouseBareNode ?? false,
  };
  if (opts.servers.includes('gatehouse') && !opts.gatehouseTsx) {
    opts.log?.('building Gatehouse (tsc → bench/out/bootstorm-dist) …');
    gatehouse.builtMain = buildProduction('bootstorm-dist');
  }
  const machines = planMachines(opts.n + 1);
  const bootFile = crypto.randomBytes(BOOT_FILE_SIZE);
  const topo = await createStormTopology({ prefix: opts.prefix, machines: opts.n, lossPct: opts.lossPct });
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    await topo.destroy();
  };
  onCleanup?.(cleanup);
  const out: StormRun[] = [];
  try {
    for (let run = 1; run <= opts.runs; run++) {
      for (const server of opts.servers)
        out.push(await oneStorm(topo, opts, server, run, bootFile, machines, gatehouse));
    }
  } finally {
    await cleanup();
  }
  return out;
}
