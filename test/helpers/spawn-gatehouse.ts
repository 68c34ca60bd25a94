import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVE_NODE_FLAGS } from '../../src/runtime-flags.js';
import type { Netns } from './netns.js';
import { cpuSeconds } from './proc-stat.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface SpawnedGatehouse {
  proc: ChildProcess;
  /** Structured log records (stderr JSON lines) received so far. */
  logs: Array<Record<string, unknown>>;
  stdout: string[];
  /** Resolves with the first log record (past or future) matching `pred`. */
  waitForLog(pred: (r: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Runs `gatehouse serve --config <file>` as a child process, inside `netns` when given (the
 * services that must own interfaces — DHCP, firewall, LLDP — run in the gateway namespace).
 * Resolves once the server printed its listening line.
 */
export async function spawnGatehouse(opts: {
  configYaml: string;
  dir: string;
  netns?: Netns;
  startTimeoutMs?: number;
  /** A built `cli/main.js` (tsc output, as production runs it) instead of src/ under tsx. */
  builtMain?: string;
  /** Extra node flags (e.g. `--cpu-prof`). */
  nodeArgs?: string[];
  /**
   * How Node is started: `flags` (default) runs `node <SERVE_NODE_FLAGS> …` as the systemd unit
   * does; `bare` runs `node …` without them; `shebang` executes `builtMain` itself, as the
   * installed `gatehouse` binary runs (its shebang gives the flags).
   */
  launch?: 'flags' | 'bare' | 'shebang';
  /**
   * Resolve only once the process has settled after its start (default true): the start-up
   * warm-ups (DHCP, TFTP, DNS, netboot HTTP; several seconds of CPU, docs/operations.md §9) run
   * after the listening line, and a test that measures latency, CPU or memory must not measure
   * them.
   */
  settle?: boolean;
}): Promise<SpawnedGatehouse> {
  const configFile = path.join(opts.dir, 'gatehouse.yml');
  fs.writeFileSync(configFile, opts.configYaml);
  const main = opts.builtMain ? [opts.builtMain] : ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts')];
  const launch = opts.launch ?? 'flags';
  if (launch === 'shebang' && !opts.builtMain) throw new Error('launch: shebang needs builtMain');
  const serveArgs = ['serve', '--config', configFile];
  // Node's flags as production starts it (src/runtime-flags.ts), then the caller's.
  const [cmd, args] =
    launch === 'shebang'
      ? [opts.builtMain!, serveArgs]
      : [
          process.execPath,
          [...(launch === 'flags' ? SERVE_NODE_FLAGS : []), ...(opts.nodeArgs ?? []), ...main, ...serveArgs],
        ];
  const proc = opts.netns
    ? opts.netns.spawn(cmd, args, { cwd: repoRoot })
    : (await import('node:child_process')).spawn(cmd, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Array<Record<string, unknown>> = [];
  const stdout: string[] = [];
  const waiters = new Set<{ pred: (r: Record<string, unknown>) => boolean; resolve: (r: Record<string, unknown>) => void }>();
  let errBuf = '';
  proc.stderr!.on('data', (d: Buffer) => {
    errBuf += d.toString();
    for (let i = errBuf.indexOf('\n'); i >= 0; i = errBuf.indexOf('\n')) {
      const line = errBuf.slice(0, i);
      errBuf = errBuf.slice(i + 1);
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line) as Record<string, unknown>;
      } catch {
        rec = { event: 'stderr', line };
      }
      logs.push(rec);
      for (const w of waiters) {
        if (w.pred(rec)) {
          waiters.delete(w);
          w.resolve(rec);
        }
      }
    }
  });
  const started = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`gatehouse did not start in time; logs:\n${logs.map((l) => JSON.stringify(l)).join('\n')}`)),
      opts.startTimeoutMs ?? 20_000,
    );
    // Whole lines, and the line anywhere in one: V8's --trace-opt output (C stdio, written in
    // blocks that end mid-line) shares stdout with ours, so our line may be split over two
    // chunks or follow half a line of V8's.
    let outBuf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      outBuf += d.toString();
      const end = outBuf.lastIndexOf('\n');
      if (end < 0) return;
      const lines = outBuf.slice(0, end).split('\n').filter(Boolean);
      outBuf = outBuf.slice(end + 1);
      for (const line of lines) {
        stdout.push(line);
        if (line.includes('gatehouse listening')) {
          clearTimeout(timer);
          resolve();
        }
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gatehouse exited with ${code} before listening; logs:\n${logs.map((l) => JSON.stringify(l)).join('\n')}`));
    });
  });
  await started;
  if (opts.settle !== false && proc.pid !== undefined) await untilSettled(proc.pid);
  return {
    proc,
    logs,
    stdout,
    waitForLog(pred, timeoutMs = 10_000) {
      const found = logs.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          if (waiters.delete(w)) reject(new Error(`no matching log line within ${timeoutMs} ms`));
        }, timeoutMs);
        const w = {
          pred,
          resolve: (r: Record<string, unknown>) => {
            clearTimeout(timer);
            resolve(r);
          },
        };
        waiters.add(w);
      });
    },
    stop(signal = 'SIGTERM') {
      if (proc.exitCode !== null) return Promise.resolve(proc.exitCode);
      return new Promise((resolve) => {
        proc.once('exit', (code) => resolve(code));
        proc.kill(signal);
      });
    },
  };
}

/** `pid`'s CPU seconds, or undefined once it is gone (the caller's own checks report it). */
function cpuOf(pid: number): number | undefined {
  try {
    return cpuSeconds(pid);
  } catch {
    return undefined;
  }
}

/** Until the process used under 20 ms of CPU in a 500 ms window (at most 60 s). */
async function untilSettled(pid: number): Promise<void> {
  const until = Date.now() + 60_000;
  let before = cpuOf(pid);
  while (before !== undefined && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 500));
    const now = cpuOf(pid);
    if (now === undefined || now - before < 0.02) return;
    before = now;
  }
}
