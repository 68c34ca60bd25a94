/**
 * A CI-sized run of the fuzz harness (bench/fuzz): 2000 inputs per decoder, no crash, and a
 * planted crash is caught, so the harness itself cannot rot. The long run (10^6 inputs per
 * decoder) is `node --import tsx bench/fuzz/run.ts`; results in bench/fuzz/RESULTS.md.
 */
import t from 'tap';
import { fuzzTarget } from '../../bench/fuzz/fuzz.js';
import { TARGETS } from '../../bench/fuzz/targets.js';

const N = 2000;

for (const target of TARGETS) {
  t.test(`${target.name}: ${N} random and mutated inputs, no crash`, async (t) => {
    const crashes: string[] = [];
    const r = fuzzTarget(target, N, 20261207, (input, e) =>
      crashes.push(`${input.toString('hex')}: ${e.message}`),
    );
    t.same(crashes, [], 'no input outside the error contract');
    t.equal(r.inputs, N);
    t.ok(r.accepted > 0 && r.accepted < N, `some inputs accepted, some refused (${r.accepted}/${N})`);
  });
}

t.test('a decoder that throws outside its contract is reported with its input', async (t) => {
  const [tftp] = TARGETS.filter((x) => x.name === 'tftp');
  const planted = {
    ...tftp!,
    name: 'planted',
    run(input: Buffer) {
      if (input.length > 0 && input[0] === 0 && input[1] === 1 && input.length % 7 === 3)
        throw new TypeError('planted');
      return tftp!.run(input);
    },
  };
  const seen: Buffer[] = [];
  const r = fuzzTarget(planted, N, 1, (input) => seen.push(input));
  t.ok(r.crashes > 0, `${r.crashes} crashes counted`);
  t.ok(
    seen.length > 0 && seen.every((b) => b[1] === 1 && b.length % 7 === 3),
    'the crashing inputs are handed over',
  );
});
