import t from 'tap';
import { describeJit, summarizeJit } from '../../bench/bootstorm/jit-report.js';

// Lines as Node 20's V8 prints them with --trace-opt --trace-deopt (one per line; worker threads
// interleave theirs on the same stdout).
const LINES = [
  '[marking 0x2f0c <JSFunction readRequest (sfi = 0x187a)> for optimization to TURBOFAN, ConcurrencyMode::kConcurrent, reason: hot and stable]',
  '[completed compiling 0x31e1 <JSFunction shortStringInJS (sfi = 0x96f5)> (target TURBOFAN) - took 0.014, 7.568, 0.075 ms]',
  '[completed optimizing 0x31e1 <JSFunction shortStringInJS (sfi = 0x96f5)> (target TURBOFAN)]',
  '[completed compiling 0x0f33 <JSFunction (sfi = 0x3dac)> (target TURBOFAN) - took 0.005, 0.885, 0.027 ms]',
  '[completed compiling 0x0f35 <JSFunction shortStringInJS (sfi = 0x96f5)> (target TURBOFAN) - took 0.010, 2.000, 0.100 ms]',
  '[bailout (kind: deopt-eager, reason: wrong map): begin. deoptimizing 0x289f <JSFunction readRequest (sfi = 0x187a)>, 0x1fa6 <Code TURBOFAN>, opt id 76, bytecode offset 0, deopt exit 99, FP to SP delta 192]',
  '[4242:0x6a1e]    61234 ms: Mark-Compact (reduce) 20.1 (23.5) -> 18.9 (22.1) MB, 12.30 / 0.00 ms  (average mu = 0.99) memory reducer',
  'gatehouse listening',
];

t.test('counts compilations per function and every deoptimisation with its reason', async (t) => {
  const s = summarizeJit(LINES);
  t.equal(s.compiled, 3);
  t.equal(s.compileMs.toFixed(3), (7.657 + 0.917 + 2.11).toFixed(3));
  t.same(
    s.byFunction.map((f) => [f.name, f.count]),
    [
      ['shortStringInJS', 2],
      ['(anonymous)', 1],
    ],
  );
  t.same(s.deopts, [{ kind: 'deopt-eager', reason: 'wrong map', name: 'readRequest' }]);
  t.equal(s.majorGcs, 1);
  const text = describeJit(s).join('\n');
  t.match(text, /3 compilations, 11 ms .* 1 deoptimisations; 1 full GCs/);
  t.match(text, /readRequest \(wrong map\)/);
});

t.test('nothing traced, nothing reported', async (t) => {
  const s = summarizeJit(['gatehouse listening']);
  t.equal(s.compiled, 0);
  t.same(s.deopts, []);
});

t.test('a lazy deoptimisation (code dependencies) is counted, its reason in parentheses', async (t) => {
  const s = summarizeJit([
    '[marking dependent code 0x325a <Code TURBOFAN> (0x2b34 <SharedFunctionInfo drain>) (opt id 125) for deoptimization, reason: code dependencies]',
    '[bailout (kind: deopt-lazy, reason: (unknown)): begin. deoptimizing 0x29ed <JSFunction drain (sfi = 0x2b34)>, 0x325a <Code TURBOFAN>, opt id 125, bytecode offset 464, deopt exit 74, FP to SP delta 160]',
  ]);
  t.same(s.deopts, [{ kind: 'deopt-lazy', reason: '(unknown)', name: 'drain' }]);
});
