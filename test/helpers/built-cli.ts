import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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
    execFileSync(
      'flock',
      [
        path.join(os.tmpdir(), 'gatehouse-build.lock'),
        process.execPath,
        path.join(repoRoot, 'node_modules/typescript/bin/tsc'),
        '-p',
        'tsconfig.build.json',
      ],
      { cwd: repoRoot, stdio: 'inherit' },
    );
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
