/**
 * CLI round trip: how long `gatehouse mdb addmachine` takes against a running server, as an
 * operator runs it (a fresh `node dist/cli/main.js` process per call, through the server's
 * admin API). Each given CLI build is called in turn, interleaved, so all see the same load;
 * `node -e 0` is the floor (a Node process that does nothing).
 *
 *   npm run build
 *   node --import tsx bench/cli/run.ts [--calls 20] [--cli dist/cli/main.js] [--cli OTHER/dist/cli/main.js]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { builtCli, timedNode } from '../../test/helpers/built-cli.js';
import { addMachineArgs, startCliServer } from '../../test/helpers/cli-server.js';

function option(name: string): string[] {
  const out: string[] = [];
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) if (argv[i] === `--${name}`) out.push(argv[++i]!);
  return out;
}

const calls = Number(option('calls')[0] ?? 20);
const clis = option('cli').map((p) => path.resolve(p));
if (clis.length === 0) clis.push(builtCli());

function stats(runs: { wallMs: number; cpuMs: number }[]): string {
  const q = (xs: number[], at: number) =>
    [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(at * xs.length))]!;
  const wall = runs.map((r) => r.wallMs);
  const cpu = runs.map((r) => r.cpuMs);
  return `wall median ${q(wall, 0.5).toFixed(0)} ms (p90 ${q(wall, 0.9).toFixed(0)}, min ${q(wall, 0).toFixed(0)}), CPU median ${q(cpu, 0.5).toFixed(0)} ms`;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-cli-bench-'));
const server = await startCliServer(dir);
try {
  const floor: { wallMs: number; cpuMs: number }[] = [];
  const byCli = new Map(clis.map((c) => [c, [] as { wallMs: number; cpuMs: number }[]]));
  let n = 0;
  for (let i = 0; i < calls; i++) {
    floor.push(await timedNode(['-e', '0'], dir));
    for (const cli of clis) {
      const r = await timedNode([cli, ...addMachineArgs(n, server.configFile)], dir);
      if (!r.stdout.startsWith(`Added machine cli${n}`)) throw new Error(`${cli}: ${r.stdout}${r.stderr}`);
      byCli.get(cli)!.push(r);
      n++;
    }
  }
  console.log(
    `load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}, ${os.cpus().length} CPUs, Node ${process.version}`,
  );
  console.log(`node -e 0                      ${stats(floor)}`);
  for (const [cli, ms] of byCli)
    console.log(
      `${path.relative(process.cwd(), cli).padEnd(30)} ${stats(ms)}  (${calls} × mdb addmachine --config FILE)`,
    );
} finally {
  await server.gh.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
