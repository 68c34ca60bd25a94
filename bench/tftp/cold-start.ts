/**
 * What a boot storm's TFTP transfers cost the server right after it (re)started its transfer
 * threads, against later in the same storm (issue 13: V8 compiles the transfer path on the
 * storm's CPU when the workers are fresh isolates). Load-independent: it compares CPU, not time.
 *
 * Each scenario starts a fresh server process (bench/tftp/gatehouse-server.ts, bundled JS like
 * production, `tftp.workers: auto`, `tftp:` overrides from the scenario), waits until it is idle
 * (its start-up work, the warm-up included, is done: the storm comes long after the start), then
 * plays `--waves` waves of `--concurrent` clients at once, each a real RFC 1350/2347 download over
 * loopback (src/tftp/client.ts: blksize 1456 + tsize, as PXE ROMs ask) of a 74 KB file (52 DATA,
 * 52 ACK), one wave after the other. Per wave it reads the server's CPU (utime + stime of every
 * thread, /proc/PID/stat; per thread from /proc/PID/task) and prints CPU ms per transfer.
 *
 *   flock /tmp/gatehouse-bench.lock node --import tsx bench/tftp/cold-start.ts \
 *     [--waves 5] [--concurrent 200] [--repeat 3] \
 *     [--scenarios 'cold={"warmWorkers":0};warm={}']
 *
 * A scenario is `name=JSON` (tftp: keys over the appliance defaults); scenarios alternate within
 * each repetition so a change in the box's load hits them alike.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { tftpGet } from '../../src/tftp/client.js';
import { busyPct, cpuJiffies } from '../bootstorm/probes.js';
import { cpuSeconds, gatehouseCommand, readProc, statFields } from './procs.js';
import { arg } from '../cli-args.js';

const here = path.dirname(fileURLToPath(import.meta.url));

const WAVES = Number(arg('waves', '5'));
const CONCURRENT = Number(arg('concurrent', '200'));
const REPEAT = Number(arg('repeat', '3'));
const SIZE = Number(arg('size', String(74 * 1024)));
/** V8/Node flags for the server (e.g. `--trace-opt`); its stdout then goes to `--stdout FILE`. */
const NODE_ARGS = arg('node-args', '').split(' ').filter(Boolean);
const STDOUT = arg('stdout', '');
const SCENARIOS = arg('scenarios', 'cold={"warmWorkers":0};warm={}')
  .split(';')
  .map((s) => {
    const eq = s.indexOf('=');
    return { name: s.slice(0, eq), overrides: JSON.parse(s.slice(eq + 1)) as Record<string, unknown> };
  });

/** Kernel-mode CPU seconds of the process (stime, /proc/PID/stat). */
function systemSeconds(pid: number): number {
  const stat = readProc(pid, 'stat');
  if (!stat) return 0;
  return Number(statFields(stat)[12]) / 100;
}

/** CPU seconds per live thread of `pid` (thread id -> s). */
function threadCpu(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  let tids: string[] = [];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    const stat = readProc(pid, `task/${tid}/stat`);
    if (!stat) continue;
    const f = statFields(stat);
    out.set(Number(tid), (Number(f[11]) + Number(f[12])) / 100);
  }
  return out;
}

function loadAverage(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
}

/** Share of the box's CPU time that was not idle over `ms` (all processes, ours included). */
async function boxBusy(ms: number): Promise<number> {
  const a = cpuJiffies();
  await new Promise((r) => setTimeout(r, ms));
  return Math.round(busyPct(a, cpuJiffies()) || 0);
}

interface Server {
  proc: ChildProcess;
  port: number;
  lines: string[];
}

async function startServer(root: string, overrides: Record<string, unknown>): Promise<Server> {
  const cmd = gatehouseCommand(path.join(here, '../out/tftp-cold-start'));
  const argv = [...NODE_ARGS, ...cmd, root, JSON.stringify(overrides)];
  // V8's traces are printf()s, block-buffered into a pipe: line-buffer them so they fall
  // between the wave markers (stdbuf execs node: the pid stays the server's).
  const proc = spawn(
    STDOUT ? 'stdbuf' : process.execPath,
    STDOUT ? ['-oL', process.execPath, ...argv] : argv,
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  readline.createInterface({ input: proc.stderr! }).on('line', (l) => lines.push(l));
  const port = await new Promise<number>((resolve, reject) => {
    proc.once('exit', (code) =>
      reject(new Error(`server exited with ${code}: ${lines.slice(-5).join('\n')}`)),
    );
    readline.createInterface({ input: proc.stdout! }).on('line', (l) => {
      if (STDOUT) fs.appendFileSync(STDOUT, `${l}\n`);
      if (l.startsWith('{"port":')) resolve((JSON.parse(l) as { port: number }).port);
    });
  });
  return { proc, port, lines };
}

/** Waits until the server used < 10 ms of CPU in the last 500 ms (its start-up work is done). */
async function settle(pid: number): Promise<number> {
  const t0 = performance.now();
  let before = cpuSeconds(pid);
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    const now = cpuSeconds(pid);
    if (now - before < 0.01 || performance.now() - t0 > 60_000) return cpuSeconds(pid);
    before = now;
  }
}

async function wave(port: number): Promise<{ ok: number; failed: number }> {
  const results = await Promise.allSettled(
    Array.from({ length: CONCURRENT }, () =>
      tftpGet({
        host: '127.0.0.1',
        port,
        file: 'undionly.kpxe',
        options: { blksize: 1456, tsize: 0 },
        keepData: false,
        dallyMs: 0,
      }).then((r) => {
        if (r.bytes !== SIZE) throw new Error(`got ${r.bytes} bytes, want ${SIZE}`);
      }),
    ),
  );
  const failed = results.filter((r) => r.status === 'rejected').length;
  return { ok: CONCURRENT - failed, failed };
}

interface Run {
  scenario: string;
  rep: number;
  startupCpuMs: number;
  waves: Array<{
    msPerTransfer: number;
    systemMs: number;
    mainMs: number;
    workersMs: number;
    otherMs: number;
    failed: number;
    busy: number;
  }>;
  warmedUp: string | undefined;
  rssMiB: number;
}

async function runScenario(
  root: string,
  name: string,
  overrides: Record<string, unknown>,
  rep: number,
): Promise<Run> {
  const server = await startServer(root, overrides);
  const pid = server.proc.pid!;
  try {
    const startupCpu = await settle(pid);
    const run: Run = {
      scenario: name,
      rep,
      startupCpuMs: Math.round(startupCpu * 1000),
      waves: [],
      warmedUp: server.lines.find((l) => l.includes('tftp.warmed_up')),
      rssMiB: 0,
    };
    run.rssMiB = Math.round(Number(/^VmRSS:\s+(\d+)/m.exec(readProc(pid, 'status') ?? '')?.[1] ?? 0) / 1024);
    for (let w = 0; w < WAVES; w++) {
      const busy = await boxBusy(300);
      if (STDOUT) fs.appendFileSync(STDOUT, `=== ${name} wave ${w + 1}\n`);
      const t0 = threadCpu(pid);
      const c0 = cpuSeconds(pid);
      const s0 = systemSeconds(pid);
      const r = await wave(server.port);
      // The last ACK's handling and the end report: let the server finish the wave's work.
      await new Promise((res) => setTimeout(res, 200));
      const c1 = cpuSeconds(pid);
      const s1 = systemSeconds(pid);
      const t1 = threadCpu(pid);
      // Threads by CPU: the busiest non-main ones are the transfer workers (one per CPU), the
      // rest V8's platform threads (TurboFan, GC) and libuv's pool. Comm names do not tell them apart.
      let mainMs = 0;
      const others: number[] = [];
      for (const [tid, s] of t1) {
        const d = (s - (t0.get(tid) ?? 0)) * 1000;
        if (tid === pid) mainMs += d;
        else others.push(d);
      }
      others.sort((a, b) => b - a);
      const nWorkers = os.availableParallelism();
      const workersMs = others.slice(0, nWorkers).reduce((a, b) => a + b, 0);
      const otherMs = others.slice(nWorkers).reduce((a, b) => a + b, 0);
      run.waves.push({
        msPerTransfer: ((c1 - c0) * 1000) / CONCURRENT,
        systemMs: ((s1 - s0) * 1000) / CONCURRENT,
        mainMs: mainMs / CONCURRENT,
        workersMs: workersMs / CONCURRENT,
        otherMs: otherMs / CONCURRENT,
        failed: r.failed,
        busy,
      });
    }
    return run;
  } finally {
    server.proc.kill('SIGTERM');
    await new Promise((r) => server.proc.once('exit', r));
  }
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ghtftp-cold-'));
fs.writeFileSync(path.join(root, 'undionly.kpxe'), Buffer.alloc(SIZE, 0x5a));
const runs: Run[] = [];
console.log(
  `tftp cold-start: ${WAVES} waves x ${CONCURRENT} concurrent downloads of ${SIZE} B (blksize 1456, tsize), ` +
    `${os.availableParallelism()} CPUs, load average ${loadAverage()}, ${new Date().toISOString()}`,
);
try {
  for (let rep = 1; rep <= REPEAT; rep++) {
    for (const s of SCENARIOS) {
      const run = await runScenario(root, s.name, s.overrides, rep);
      runs.push(run);
      console.log(JSON.stringify(run));
    }
  }
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}

const fmt = (n: number) => n.toFixed(2);
console.log('');
console.log(
  `| scenario | run | start-up CPU ms | RSS MiB idle | ${Array.from({ length: WAVES }, (_, i) => `wave ${i + 1} ms/transfer (main + workers + other; of which kernel)`).join(' | ')} | failed | box busy % per wave |`,
);
console.log(`|---|---:|---:|---:|${'---:|'.repeat(WAVES)}---:|---|`);
for (const r of runs) {
  const cells = r.waves.map(
    (w) =>
      `${fmt(w.msPerTransfer)} (${fmt(w.mainMs)} + ${fmt(w.workersMs)} + ${fmt(w.otherMs)}; sys ${fmt(w.systemMs)})`,
  );
  const failed = r.waves.reduce((a, w) => a + w.failed, 0);
  console.log(
    `| ${r.scenario} | ${r.rep} | ${r.startupCpuMs} | ${r.rssMiB} | ${cells.join(' | ')} | ${failed} | ${r.waves.map((w) => w.busy).join('/')} |`,
  );
}
console.log(`load average at the end: ${loadAverage()}`);
