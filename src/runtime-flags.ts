/**
 * The Node.js (V8) flags `gatehouse serve` is meant to run with. They cannot be set from inside
 * the process (V8 reads them when the heap is set up), so they are written where Node is started:
 * the CLI's shebang (src/cli/main.ts), `npm start` (scripts/start.mjs), the systemd unit
 * (docs/operations.md §3) and the test/bench launcher (test/helpers/spawn-gatehouse.ts).
 *
 * `--no-memory-reducer`: V8's memory reducer runs full "reduce" GCs ~8 s after the heap stops
 * growing, i.e. once the start-up warm-ups are over and the LAN is quiet. Those GCs collect the
 * warm-ups' objects, and V8 throws away the optimised code that referred to them (`--trace-deopt`:
 * "marking dependent code … reason: weak objects"), so a storm after an idle wait met cold code
 * again (bench/bootstorm/RESULTS.md: 207–229 TurboFan compilations in the storm instead of ~90).
 * What it costs: the heap is not shrunk while idle (164 MB RSS against 153 MB after 90 s idle).
 */
export const SERVE_NODE_FLAGS: readonly string[] = ['--no-memory-reducer'];

/** The flags of SERVE_NODE_FLAGS this process was not started with. */
export function missingServeNodeFlags(execArgv: readonly string[] = process.execArgv): string[] {
  return SERVE_NODE_FLAGS.filter((flag) => !execArgv.includes(flag));
}
