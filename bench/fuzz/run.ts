/**
 * Fuzz run (issue 15): random and mutated inputs for every decoder that reads bytes a LAN
 * machine or the kernel controls. Counts crashes (exceptions outside each decoder's contract),
 * saves each crashing input under bench/fuzz/crashes/, prints inputs/s, and exits 1 on a crash.
 *
 *   node --import tsx bench/fuzz/run.ts [--n 1000000] [--decoder dns[,tftp…]] [--seed 1]
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type FuzzResult, fuzzTarget } from './fuzz.js';
import { TARGETS } from './targets.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const n = Number(arg('n') ?? 1_000_000);
const seed = Number(arg('seed') ?? 1);
const only = arg('decoder')?.split(',');
if (!Number.isInteger(n) || n < 1 || !Number.isInteger(seed)) {
  console.error('usage: node --import tsx bench/fuzz/run.ts [--n 1000000] [--decoder dns,tftp] [--seed 1]');
  process.exit(2);
}
const targets = only ? TARGETS.filter((t) => only.includes(t.name)) : TARGETS;
if (only && targets.length !== only.length) {
  console.error(`unknown decoder; known: ${TARGETS.map((t) => t.name).join(', ')}`);
  process.exit(2);
}

const crashDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'crashes');
const results: FuzzResult[] = [];
for (const target of targets) {
  const r = fuzzTarget(target, n, seed, (input, error) => {
    fs.mkdirSync(crashDir, { recursive: true });
    const id = createHash('sha1').update(input).digest('hex').slice(0, 12);
    const file = path.join(crashDir, `${target.name}-${id}.bin`);
    fs.writeFileSync(file, input);
    console.error(
      `CRASH ${target.name}: ${error.stack ?? error.message}\n  input saved to ${file} (${input.length} bytes)`,
    );
  });
  results.push(r);
  console.log(
    `${target.name.padEnd(10)} ${String(r.inputs).padStart(8)} inputs  ${String(r.crashes).padStart(3)} crashes  ` +
      `${((r.accepted / r.inputs) * 100).toFixed(1).padStart(5)} % accepted  ${Math.round(r.perSecond).toString().padStart(8)} inputs/s  (${r.seconds.toFixed(1)} s)`,
  );
}
const crashes = results.reduce((s, r) => s + r.crashes, 0);
console.log(`seed ${seed}, ${n} inputs per decoder, node ${process.version}: ${crashes} crash(es)`);
process.exit(crashes > 0 ? 1 : 0);
