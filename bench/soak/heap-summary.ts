/**
 * Summarises a V8 heap snapshot (`node --heapsnapshot-signal=SIGUSR2 …`, then `kill -USR2 PID`):
 * self size by node type and by constructor/string kind, the biggest first — where the JS heap
 * of a Gatehouse process goes, for docs/operations.md.
 *
 *   node --import tsx bench/soak/heap-summary.ts FILE.heapsnapshot [TOP=25]
 */
import fs from 'node:fs';

const [file, topArg] = process.argv.slice(2);
if (!file) throw new Error('usage: heap-summary.ts FILE.heapsnapshot [TOP]');
const snap = JSON.parse(fs.readFileSync(file, 'utf8')) as {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
};
const fields = snap.snapshot.meta.node_fields;
const width = fields.length;
const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [
  number,
  number,
  number,
];
const types = snap.snapshot.meta.node_types[0];
const byType = new Map<string, number>();
const byName = new Map<string, { bytes: number; count: number }>();
let total = 0;
for (let i = 0; i < snap.nodes.length; i += width) {
  const type = types[snap.nodes[i + typeAt]!]!;
  const size = snap.nodes[i + sizeAt]!;
  total += size;
  byType.set(type, (byType.get(type) ?? 0) + size);
  const name = type === 'object' || type === 'native' ? snap.strings[snap.nodes[i + nameAt]!]! : `(${type})`;
  const e = byName.get(name) ?? { bytes: 0, count: 0 };
  e.bytes += size;
  e.count++;
  byName.set(name, e);
}
const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
console.log(`total self size ${mib(total)}`);
for (const [t, b] of [...byType].sort((a, b) => b[1] - a[1])) console.log(`  ${t.padEnd(20)} ${mib(b)}`);
console.log('biggest by constructor (objects, natives) or node type:');
for (const [n, e] of [...byName].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, Number(topArg ?? 25)))
  console.log(`  ${mib(e.bytes).padStart(10)} ${String(e.count).padStart(9)} × ${n.slice(0, 70)}`);
