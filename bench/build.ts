/**
 * The production build for a bench: tsc with tsconfig.build.json (what `npm run build` and the
 * systemd unit of docs/operations.md run), into a directory of the bench's own under bench/out/
 * so a bench never overwrites the operator's dist/. The layout is dist/'s, so worker threads
 * (`*-worker.js`) are found beside their parents and static/ above them.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Builds into `bench/out/<name>` and returns the path of its `cli/main.js`. */
export function buildProduction(name: string): string {
  const outDir = path.join(repo, 'bench/out', name);
  execFileSync(
    process.execPath,
    [path.join(repo, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', outDir],
    { cwd: repo, stdio: 'inherit' },
  );
  return path.join(outDir, 'cli/main.js');
}
