/**
 * Process plumbing shared by the TFTP bench scripts: CPU accounting of a process tree (cgroup v2
 * cpu.stat), memory sampling, the bundled Gatehouse server command, client spawning.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export function readProc(pid: number, file: string): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined;
  }
}

export const kb = (text: string | undefined, field: string): number =>
  Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text ?? '')?.[1] ?? 0);

/**
 * The fields of a /proc/PID/stat (or task/TID/stat) line after the command name, which may hold
 * spaces: index 0 is the state, 11 utime, 12 stime (proc(5) numbers them from 3).
 */
export function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** utime+stime (+ reaped children's) in seconds, from /proc/PID/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readProc(pid, 'stat');
  if (!stat) return 0;
  const f = statFields(stat);
  const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  return ticks / 100; // USER_HZ
}

export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const stat = readProc(Number(d), 'stat');
    if (!stat) continue;
    const ppid = Number(statFields(stat)[1]);
    if (ppid === pid) out.push(Number(d));
  }
  return out;
}

/**
 * CPU time of a process tree, forked children included even after they exit (tftpd-hpa forks
 * one per transfer): a cgroup v2 group, whose cpu.stat exists without enabling any controller.
 * Falls back to /proc/PID/stat of the top process when cgroup v2 is not writable.
 */
export class CpuGroup {
  private readonly dir: string | undefined;
  constructor(
    name: string,
    private readonly pid?: number,
  ) {
    const base = '/sys/fs/cgroup/unified';
    const alt = '/sys/fs/cgroup';
    const root = fs.existsSync(`${base}/cgroup.procs`)
      ? base
      : fs.existsSync(`${alt}/cgroup.procs`)
        ? alt
        : undefined;
    if (!root) return;
    const dir = `${root}/ghtftp-bench-${name}-${process.pid}`;
    try {
      fs.mkdirSync(dir);
      if (pid) fs.writeFileSync(`${dir}/cgroup.procs`, String(pid));
      this.dir = dir;
    } catch {
      this.dir = undefined;
    }
  }
  get procsFile(): string | undefined {
    return this.dir ? `${this.dir}/cgroup.procs` : undefined;
  }
  /** CPU seconds used so far. */
  seconds(): number {
    if (this.dir) {
      const stat = fs.readFileSync(`${this.dir}/cpu.stat`, 'utf8');
      return Number(/^usage_usec (\d+)/m.exec(stat)?.[1] ?? 0) / 1e6;
    }
    return this.pid ? cpuSeconds(this.pid) : 0;
  }
  /** Kernel-mode share of {@link seconds} (cgroup only; 0 otherwise). */
  systemSeconds(): number {
    if (!this.dir) return 0;
    const stat = fs.readFileSync(`${this.dir}/cpu.stat`, 'utf8');
    return Number(/^system_usec (\d+)/m.exec(stat)?.[1] ?? 0) / 1e6;
  }
  get exact(): boolean {
    return this.dir !== undefined;
  }
  async remove(): Promise<void> {
    if (!this.dir) return;
    for (let i = 0; i < 50; i++) {
      try {
        fs.rmdirSync(this.dir);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100)); // processes still exiting
      }
    }
  }
}

/** Samples a server's memory every 100 ms: max summed PSS over the process and its children. */
export class MemorySampler {
  peakPssKb = 0;
  peakProcesses = 0;
  private timer: NodeJS.Timeout;
  constructor(private readonly pid: number) {
    this.timer = setInterval(() => this.sample(), 100);
  }
  sample(): void {
    const pids = [this.pid, ...childrenOf(this.pid)];
    let pss = 0;
    for (const p of pids) pss += kb(readProc(p, 'smaps_rollup'), 'Pss');
    this.peakPssKb = Math.max(this.peakPssKb, pss);
    this.peakProcesses = Math.max(this.peakProcesses, pids.length);
  }
  stop(): void {
    clearInterval(this.timer);
  }
}

/**
 * Production runs compiled JavaScript, not the tsx loader (which alone adds ~35 MiB of RSS):
 * bundle the bench server and the TFTP transfer worker with esbuild (installed with tsx) next to
 * node_modules so their packages resolve; the server finds the worker beside itself
 * (`transfer-worker.js`). Falls back to tsx when esbuild is not there. `outdir`: where the
 * bundle goes (a bench that may run beside another worktree's uses its own, under bench/out/).
 */
export function gatehouseCommand(
  outdir = path.join(here, '../../node_modules/.cache/ghtftp-bench'),
): string[] {
  const repo = path.resolve(here, '../..');
  const esbuild = path.join(repo, 'node_modules/.bin/esbuild');
  const worker = path.join(repo, 'src/tftp/transfer-worker.ts');
  const built = fs.existsSync(esbuild)
    ? spawnSync(
        esbuild,
        [
          path.join(here, 'gatehouse-server.ts'),
          ...(fs.existsSync(worker) ? [worker] : []),
          '--bundle',
          '--platform=node',
          '--format=esm',
          '--packages=external',
          '--entry-names=[name]',
          '--out-extension:.js=.mjs',
          `--outdir=${outdir}`,
        ],
        { stdio: 'ignore' },
      )
    : undefined;
  return built?.status === 0
    ? [path.join(outdir, 'gatehouse-server.mjs')]
    : ['--import', 'tsx', path.join(here, 'gatehouse-server.ts')];
}

/** Runs a client command inside the client CPU group (the shell joins it, then execs). */
export function spawnClient(
  group: CpuGroup,
  cmd: string,
  argv: string[],
  stdout: 'pipe' | 'ignore',
): ChildProcess {
  const quoted = [cmd, ...argv].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  const join = group.procsFile ? `echo $$ > ${group.procsFile}; ` : '';
  // atftp prints the options it asks for on stderr; our fetch-many prints errors there.
  return spawn('sh', ['-c', `${join}exec ${quoted}`], {
    stdio: ['ignore', stdout, cmd === 'atftp' ? 'ignore' : 'inherit'],
  });
}

/** The atftp options both servers are asked for: a full Ethernet frame, tsize, RFC 7440 window. */
export const OPTIONS = { blksize: 1468, windowsize: 16, tsize: 0 };

/** `clients` concurrent atftp downloads of `file` (to /dev/null) in `group`; their exit codes. */
export function atftpDownloads(
  group: CpuGroup,
  clients: number,
  file: string,
  port: number,
): Promise<Array<number | null>> {
  const opts = Object.entries(OPTIONS).flatMap(([k, v]) => ['--option', `${k} ${v}`]);
  return Promise.all(
    Array.from(
      { length: clients },
      () =>
        new Promise<number | null>((resolve) => {
          spawnClient(
            group,
            'atftp',
            [...opts, '-g', '-r', file, '-l', '/dev/null', '127.0.0.1', String(port)],
            'ignore',
          ).on('exit', resolve);
        }),
    ),
  );
}
