import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { builtCli, operatorEnv, timedNode, traceImportsArgs } from '../helpers/built-cli.js';
import { addMachineArgs, startCliServer } from '../helpers/cli-server.js';
import { repoRoot } from '../helpers/spawn-gatehouse.js';
import { tempDir } from '../helpers/tmp.js';

const run = promisify(execFile);

/**
 * What `gatehouse mdb addmachine` may load when a server owns the data directory: the CLI's
 * own small files, the error classes, the version and the two configuration defaults. Not
 * the store (lmdb), the schemas (zod), the YAML parser, an HTTP client library, nor any
 * protocol. The figures are in bench/cli/RESULTS.md; CI only holds a very generous bound.
 */
const ALLOWED = [
  /^dist\/cli\/[a-z-]+\.js$/,
  /^dist\/errors\.js$/,
  /^dist\/version\.js$/,
  /^dist\/config\/defaults\.js$/,
];

t.test('gatehouse mdb addmachine through a running server loads only what the call needs', async (t) => {
  const cli = builtCli();
  const dir = tempDir(t);
  const server = await startCliServer(dir);
  t.teardown(() => server.gh.stop());
  // CPU time of each call next to that of `node -e 0` run just before it: the ratio holds whatever the load of the box. Wall time on a 2-core box shared
  // by other jobs only gets a sanity bound; the figures belong to bench/cli/RESULTS.md.
  const floor: number[] = [];
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let i = 0; i < 3; i++) {
    floor.push((await timedNode(['-e', '0'], dir)).cpuMs);
    const call = await timedNode([cli, ...addMachineArgs(i, server.configFile)], dir);
    cpu.push(call.cpuMs);
    wall.push(call.wallMs);
    t.match(call.stdout, new RegExp(`^Added machine cli${i} \\(ip [\\d.]+, mac 02:00:00:00:00:0${i}\\)`));
    t.equal(call.stderr, '');
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[1]!;
  t.comment(
    `gatehouse mdb addmachine through the server: wall ${wall.map((ms) => ms.toFixed(0)).join(', ')} ms, CPU ${cpu.map((ms) => ms.toFixed(0)).join(', ')} ms; node -e 0: CPU ${floor.map((ms) => ms.toFixed(0)).join(', ')} ms`,
  );
  // Before the lazy loading a call cost ~10× the CPU of an empty Node (1.2 s against 0.11 s on
  // a quiet box); now ~2× (0.2 s).
  t.ok(
    median(cpu) < 3 * median(floor),
    `CPU ${median(cpu).toFixed(0)} ms < 3 × node -e 0 (${median(floor).toFixed(0)} ms)`,
  );
  t.ok(
    median(wall) < 10_000,
    `wall median ${median(wall).toFixed(0)} ms < 10 s (sanity only: CI is a shared box)`,
  );

  const trace = path.join(dir, 'trace');
  await run(process.execPath, [...traceImportsArgs, cli, ...addMachineArgs(3, server.configFile)], {
    env: operatorEnv({ GH_TRACE_IMPORTS: trace }),
  });
  const loaded = fs.readFileSync(trace, 'utf8').split('\n').filter(Boolean);
  const files = loaded
    .filter((u) => u.startsWith('file:'))
    .map((u) => path.relative(repoRoot, fileURLToPath(u)));
  t.ok(
    files.includes('dist/cli/mdb.js') && files.includes('dist/cli/run-operation.js'),
    'the trace saw the command',
  );
  const extra = files.filter((f) => !ALLOWED.some((re) => re.test(f)));
  t.same(extra, [], 'nothing but the CLI itself is loaded');
  t.notOk(
    files.some((f) => /^dist\/cli\/(run-local|fw-local|serve|zone|leases|udb|presence)\.js$/.test(f)),
    'no other command and no local-store path is loaded',
  );

  const { stdout } = await run(
    process.execPath,
    [cli, 'mdb', 'list', '--config', server.configFile, 'hostname__startswith=cli'],
    { env: operatorEnv() },
  );
  t.equal(stdout.split('\n').filter(Boolean).length, 4, 'the server stored the four machines');
});
