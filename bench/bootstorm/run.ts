/**
 * Boot-storm bench: N machines switched on at once (or at a rate) against Gatehouse and its
 * peers in the same run. Needs root. See bench/bootstorm/RESULTS.md.
 *
 *   node --import tsx bench/bootstorm/run.ts --n 1000 [--rate 250] [--loss 3] [--busy 50]
 *        [--servers gatehouse,dnsmasq,kea] [--runs 1] [--csv out.csv] [--prefix sbst]
 *        [--gatehouse-tsx] [--gatehouse-node-args "--cpu-prof --cpu-prof-dir=/tmp/prof"] [--idle-before S]
 *        [--gatehouse-bare-node]   (Node without the production flags of src/runtime-flags.ts)
 *   Gatehouse runs from the production build (tsc into bench/out/bootstorm-dist), as the
 *   systemd unit runs it; --gatehouse-tsx runs src/ under tsx instead.
 *   node --import tsx bench/bootstorm/run.ts --interface eth1 --n 200 [--machines FILE] ...
 *        (rehearsal from a spare machine against a real gateway, docs/operations.md)
 */
import fs from 'node:fs';
import os from 'node:os';
import { type Cleanup, runBench } from './bench.js';
import { STACKS, type StackName } from './peers.js';
import { rehearse } from './rehearse.js';
import { comparisonTable, csvHeader, csvRows, describe } from './report.js';
import { arg } from '../cli-args.js';


const n = Number(arg('n', '100'));
const rate = Number(arg('rate', '0'));
const lossPct = Number(arg('loss', '0'));
const busy = Number(arg('busy', '0'));
const runs = Number(arg('runs', '1'));
const csv = arg('csv', '');
const iface = arg('interface', '');
const servers = arg('servers', STACKS.join(',')).split(',').filter(Boolean) as StackName[];
for (const s of servers)
  if (!(STACKS as readonly string[]).includes(s))
    throw new Error(`unknown server ${s} (one of ${STACKS.join(', ')})`);
if (!(n >= 1 && n <= 2500)) throw new Error('--n must be 1..2500');

let cleanup: Cleanup | undefined;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    console.error(`\n${sig}: tearing down the bench namespaces`);
    void (cleanup ? cleanup() : Promise.resolve()).finally(() => process.exit(130));
  });
}

console.log(
  `# bootstorm: N=${n}, ${rate > 0 ? `${rate}/s` : 'all at once'}, loss ${lossPct} %, busy ${busy} %, ${os.cpus().length} CPUs, load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}; ${new Date().toISOString()}`,
);
const storms = iface
  ? await rehearse({
      iface,
      n,
      rate,
      machinesFile: arg('machines', ''),
      prefixLen: Number(arg('prefix-len', '23')),
      domain: arg('domain', 'prolo'),
    })
  : await runBench(
      {
        n,
        rate,
        lossPct,
        servers,
        runs,
        busyPct: busy,
        idleBeforeS: Number(arg('idle-before', '0')),
        prefix: arg('prefix', 'sbst'),
        gatehouseTsx: process.argv.includes('--gatehouse-tsx'),
        gatehouseNodeArgs: arg('gatehouse-node-args', '').split(' ').filter(Boolean),
        gatehouseBareNode: process.argv.includes('--gatehouse-bare-node'),
        log: (l) => console.error(l),
      },
      (c) => {
        cleanup = c;
      },
    );
for (const s of storms) console.log(`\n${describe(s.summary)}`);
console.log(`\n${comparisonTable(storms.map((s) => s.summary))}`);
if (csv) {
  fs.writeFileSync(
    csv,
    `${[csvHeader(), ...storms.flatMap((s) => csvRows(s.summary.server, s.summary.run, s.results))].join('\n')}\n`,
  );
  console.log(`\nper-machine results: ${csv}`);
}
