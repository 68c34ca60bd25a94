import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './spawn-gatehouse.js';

/** `dist/cli/main.js`, the CLI as it is installed (`bin` of package.json). */
export const builtCliPath = path.join(repoRoot, 'dist/cli/main.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : fs.statSync(full).mtimeMs);
  }
  return newest;
}

/**
 * The built CLI, rebuilt first when a file of src/ is newer than it (`npm test` builds before
 * running tap; a single test file run by hand may not). Builds are serialised with flock so two
 * test files never write dist/ at once.
 */
export function builtCli(): string {
  const stale = () =>
    !fs.existsSync(builtCliPath) ||
    fs.statSync(builtCliPath).mtimeMs < newestMtime(path.join(repoRoot, 'src'));
  if (stale()) {
    // `npm run build`, as docs/operations.md installs it (tsc, then the CLI made executable).
    execFileSync('flock', [path.join(os.tmpdir(), 'gatehouse-build.lock'), 'npm', 'run', '-s', 'build'], {
      cwd: repoRoot,
      stdio: 'inherit',
    });
  }
  return builtCliPath;
}

/** `node --import <tracer>` arguments and the file that lists every module URL the run loaded. */
export const traceImportsArgs = ['--import', path.join(repoRoot, 'test/helpers/trace-imports/register.mjs')];

/**
 * The environment of the CLI as an operator runs it: without the NODE_OPTIONS a test runner
 * sets for its own children (tap preloads its process-info hooks into every node it starts).
 */
export function operatorEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.NODE_OPTIONS;
  return env;
}

export interface TimedRun {
  wallMs: number;
  /** User + system CPU time of the process, from bash's `time`. */
  cpuMs: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node ARGS…` as an operator would (operatorEnv) and measures it. CPU time says what a
 * start-up costs whatever else the box is doing; wall time is what the operator waits.
 */
export async function timedNode(
  args: string[],
  scratchDir: string,
  env: Record<string, string> = {},
): Promise<TimedRun> {
  const files = {
    out: path.join(scratchDir, 'timed.out'),
    err: path.join(scratchDir, 'timed.err'),
    cpu: path.join(scratchDir, 'timed.cpu'),
  };
  const t0 = performance.now();
  await promisify(execFile)(
    'bash',
    [
      '-c',
      'TIMEFORMAT="%3U %3S"; { time "$@" >"$GH_OUT" 2>"$GH_ERR"; } 2>"$GH_CPU"',
      'bash',
      process.execPath,
      ...args,
    ],
    { env: operatorEnv({ ...env, GH_OUT: files.out, GH_ERR: files.err, GH_CPU: files.cpu }) },
  );
  const wallMs = performance.now() - t0;
  const [user, sys] = fs.readFileSync(files.cpu, 'utf8').trim().split(/\s+/).map(Number);
  return {
    wallMs,
    cpuMs: (user! + sys!) * 1000,
    stdout: fs.readFileSync(files.out, 'utf8'),
    stderr: fs.readFileSync(files.err, 'utf8'),
  };
}
