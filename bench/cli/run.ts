/**
 * CLI round trip: how long `gatehouse mdb addmachine` takes against a running server, as an
 * operator runs it (a fresh `node dist/cli/main.js` process per call, through the server's
 * admin API). Each given CLI build is called in turn, interleaved, so all see the same load;
 * `node -e 0` is the floor (a Node process that does nothing).
 *
 *   npm run build
 *   node --import tsx bench/cli/run.ts [--calls 20] [--cli dist/cli/main.js] [--cli OTHER/dist/cli/main.js]
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { builtCli } from '../../test/helpers/built-cli.js';
import { addMachineArgs, startCliServer } from '../../test/helpers/cli-server.js';

const run = promisify(execFile);

function option(name: string): string[] {
  const out: string[] = [];
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) if (argv[i] === `--${name}`) out.push(argv[++i]!);
  return out;
}

const calls = Number(option('calls')[0] ?? 20);
const clis = option('cli').map((p) => path.resolve(p));
if (clis.length === 0) clis.push(builtCli());

async function timed(args: string[]): Promise<number> {
  const t0 = performance.now();
  await run(process.execPath, args);
  return performance.now() - t0;
}

function stats(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return `median ${at(0.5).toFixed(0)} ms, p90 ${at(0.9).toFixed(0)} ms, min ${s[0]!.toFixed(0)} ms, max ${s.at(-1)!.toFixed(0)} ms`;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-cli-bench-'));
const server = await startCliServer(dir);
try {
  const floor: number[] = [];
  const byCli = new Map(clis.map((c) => [c, [] as number[]]));
  let n = 0;
  for (let i = 0; i < calls; i++) {
    floor.push(await timed(['-e', '0']));
    for (const cli of clis)
      byCli.get(cli)!.push(await timed([cli, ...addMachineArgs(n++, server.configFile)]));
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
