/**
 * What V8's optimising compiler did during a storm, from the server's `--trace-opt --trace-deopt`
 * output (stdout, all threads): how many functions TurboFan compiled, its compile time, and every
 * deoptimisation with its reason. A warmed-up server compiles (almost) nothing in the storm and
 * never deoptimises there; what shows up here is code the start-up warm-ups miss or teach the
 * wrong object shapes (issue 13).
 *
 * Usage: `bench/bootstorm/run.ts ... --gatehouse-node-args "--trace-opt --trace-deopt"`; the
 * summary is in the per-run detail. V8 prints no thread or file, only function names; the times
 * are wall times of the compiling thread (inflated when the box is saturated).
 */

const COMPILED = /\[completed compiling .*?<JSFunction ?(\S*?)(?: ?\(sfi[^>]*)?>.*?took ([\d.]+), ([\d.]+), ([\d.]+) ms\]/;
// The reason may hold parentheses: a lazy deoptimisation (code dependencies) says `(unknown)`.
const DEOPT = /\[bailout \(kind: ([^,]+), reason: (.*?)\): begin\. deoptimizing \S+ <JSFunction ?(\S*?)(?: ?\(sfi[^>]*)?>/;

export interface JitSummary {
  compiled: number;
  compileMs: number;
  byFunction: Array<{ name: string; count: number; ms: number }>;
  deopts: Array<{ name: string; reason: string; kind: string }>;
  /** Full (mark-compact) GCs, when `--trace-gc` is on too: each one ages unused bytecode. */
  majorGcs: number;
}

export function summarizeJit(lines: readonly string[]): JitSummary {
  const fns = new Map<string, { count: number; ms: number }>();
  const deopts: JitSummary['deopts'] = [];
  let compiled = 0;
  let compileMs = 0;
  let majorGcs = 0;
  for (const line of lines) {
    if (line.includes(' Mark-Compact ')) majorGcs++;
    const c = COMPILED.exec(line);
    if (c) {
      // The three phases: prepare (main thread), execute (background thread), finalize (main).
      const ms = [c[2], c[3], c[4]].map(Number).filter((v) => v < 60_000).reduce((a, b) => a + b, 0);
      const name = c[1] || '(anonymous)';
      const f = fns.get(name) ?? { count: 0, ms: 0 };
      f.count++;
      f.ms += ms;
      fns.set(name, f);
      compiled++;
      compileMs += ms;
      continue;
    }
    const d = DEOPT.exec(line);
    if (d) deopts.push({ kind: d[1]!, reason: d[2]!, name: d[3] || '(anonymous)' });
  }
  const byFunction = [...fns].map(([name, f]) => ({ name, ...f })).sort((a, b) => b.ms - a.ms);
  return { compiled, compileMs, byFunction, deopts, majorGcs };
}

export function describeJit(s: JitSummary, top = 20): string[] {
  const out = [
    `TurboFan during the storm: ${s.compiled} compilations, ${s.compileMs.toFixed(0)} ms compile wall time; ${s.deopts.length} deoptimisations${s.majorGcs ? `; ${s.majorGcs} full GCs` : ''}`,
  ];
  if (s.byFunction.length)
    out.push(
      `compiled during the storm (ms×count): ${s.byFunction
        .slice(0, top)
        .map((f) => `${f.name} ${f.ms.toFixed(0)}×${f.count}`)
        .join(', ')}${s.byFunction.length > top ? `, … ${s.byFunction.length - top} more` : ''}`,
    );
  if (s.deopts.length)
    out.push(`deoptimised during the storm: ${s.deopts.map((d) => `${d.name} (${d.reason})`).join(', ')}`);
  return out;
}
