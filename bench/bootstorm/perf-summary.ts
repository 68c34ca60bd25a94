/**
 * Summarises a perf profile of Gatehouse during a storm (RESULTS.md "Where the server's CPU
 * goes"): per thread, the share of samples, the kernel's share, the top functions by self time,
 * the innermost Gatehouse function of each sample (its JavaScript plus everything native and
 * kernel below it), and for the thread with the most samples (main) a breakdown by protocol.
 *
 *   node --import tsx bench/bootstorm/run.ts ... --gatehouse-node-args "--perf-basic-prof"
 *   perf record -F 499 -e cpu-clock -g -p <gatehouse pid> -o perf.data -- sleep 35
 *   perf script -i perf.data -F tid,ip,sym,dso | node --import tsx bench/bootstorm/perf-summary.ts [--top 25]
 *
 * perf's cpu-clock counts time on a CPU only; V8's --cpu-prof also samples a thread blocked or
 * preempted in a syscall, which on a busy box inflates every write(2).
 */
import fs from 'node:fs';

interface Sample {
  tid: string;
  /** Innermost first: [symbol, object]. */
  frames: Array<[string, string]>;
}

/** Sample stacks of `perf script -F tid,ip,sym,dso`. */
export function parsePerfScript(text: string): Sample[] {
  const out: Sample[] = [];
  let cur: Sample | undefined;
  for (const line of text.split('\n')) {
    if (!line.trim()) {
      if (cur) out.push(cur);
      cur = undefined;
      continue;
    }
    if (!/^\s/.test(line)) {
      if (cur) out.push(cur);
      cur = { tid: line.trim().split(/\s+/)[0]!, frames: [] };
      continue;
    }
    const m = /^\s*[0-9a-f]+\s+(.*)\s+\((.*)\)$/.exec(line);
    if (m && cur) cur.frames.push([m[1]!, m[2]!]);
  }
  if (cur) out.push(cur);
  return out;
}

/** Gatehouse's own JavaScript frames (built or under tsx). */
const OWN = /\/(bootstorm-dist|dist|src)\/(?!.*node_modules)/;
const isKernel = (s: Sample) => s.frames[0]?.[1].includes('kernel') ?? false;
const short = (sym: string) => sym.replace(/file:\/\/\S*?\/(bootstorm-dist|dist|src)\//, '').slice(0, 100);

/** First matching category of the whole stack, in this order. */
const CATEGORIES: Array<[string, RegExp]> = [
  ['log', /\/log\.js|\/log\.ts|log-summary|log-writer/],
  ['boot progress', /\/boot\/progress/],
  ['metrics', /prom-client|\/metrics\./],
  ['LMDB', /lmdb|\/store\//],
  ['DHCP', /\/dhcp\/|raw-socket|__libc_sendto/],
  ['DNS', /\/dns\//],
  ['TFTP', /\/tftp\//],
  [
    'HTTP',
    /\/http\/|_http_|node:net|llhttp|stream_base|streams\/|shutdown|accept4|uv__server_io|uv__stream_io/,
  ],
  ['worker messages', /worker|MessagePort|ValueDeserializer/],
  ['GC', /Scaveng|MarkCompact|Heap::|Sweeper/],
  ['TurboFan', /compiler::/],
  ['idle wait', /epoll_pwait/],
];

function table(counts: Map<string, number>, n: number, top: number): string {
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, v]) => `${String(v).padStart(6)} ${((100 * v) / n).toFixed(1).padStart(5)} %  ${k}`)
    .join('\n');
}

function bump(m: Map<string, number>, k: string): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}

export function summarise(samples: readonly Sample[], top: number): string {
  const lines: string[] = [];
  const n = samples.length;
  const byTid = new Map<string, Sample[]>();
  for (const s of samples) {
    const list = byTid.get(s.tid);
    if (list) list.push(s);
    else byTid.set(s.tid, [s]);
  }
  const threads = [...byTid].sort((a, b) => b[1].length - a[1].length);
  lines.push(`${n} samples; kernel ${((100 * samples.filter(isKernel).length) / n).toFixed(1)} %`);
  for (const [tid, ss] of threads) {
    if (ss.length < n / 100) continue;
    const self = new Map<string, number>();
    const own = new Map<string, number>();
    for (const s of ss) {
      bump(self, short(s.frames[0]?.[0] ?? '?'));
      bump(own, short(s.frames.find((f) => OWN.test(f[0]))?.[0] ?? '(no Gatehouse frame)'));
    }
    lines.push(
      `\n=== thread ${tid}: ${ss.length} samples (${((100 * ss.length) / n).toFixed(1)} %), kernel ${((100 * ss.filter(isKernel).length) / ss.length).toFixed(1)} %`,
      '--- self',
      table(self, ss.length, top),
      '--- by innermost Gatehouse frame (with everything below it)',
      table(own, ss.length, top),
    );
  }
  const main = threads[0]?.[1] ?? [];
  const cats = new Map<string, number>();
  for (const s of main) {
    const stack = s.frames.map((f) => f[0]).join(' ');
    bump(cats, CATEGORIES.find(([, rx]) => rx.test(stack))?.[0] ?? 'other');
  }
  lines.push(`\n=== thread ${threads[0]?.[0]} by what the stack is doing`, table(cats, main.length, 50));
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const i = process.argv.indexOf('--top');
  const top = i >= 0 ? Number(process.argv[i + 1]) : 25;
  console.log(summarise(parsePerfScript(fs.readFileSync(0, 'utf8')), top));
}
