import { execFileSync } from 'node:child_process';
import t from 'tap';
import fc from 'fast-check';
import { pyJsonDumps } from '../../src/rpc/pyjson.js';

t.test('Python separators and ensure_ascii escapes', async (t) => {
  t.equal(pyJsonDumps({ type: 'result', data: [] }), '{"type": "result", "data": []}');
  t.equal(pyJsonDumps([1, 'a', null, true, { b: [2, 3] }]), '[1, "a", null, true, {"b": [2, 3]}]');
  t.equal(pyJsonDumps('Élodie\u007f\n"\\'), '"\\u00c9lodie\\u007f\\n\\"\\\\"');
  t.equal(pyJsonDumps('😀'), '"\\ud83d\\ude00"');
  t.equal(pyJsonDumps({ a: undefined, b: 1 }), '{"b": 1}');
  t.throws(() => pyJsonDumps({ f: () => 1 }));
  t.throws(() => pyJsonDumps(Number.NaN));
  t.throws(() => pyJsonDumps(10n));
});

t.test('property: same bytes as CPython json.dumps, and JSON.parse round-trips', async (t) => {
  const json = fc.jsonValue({ maxDepth: 3 }).filter((v) => !JSON.stringify(v).match(/\d[eE.]|-0\b/));
  const samples = fc.sample(json, 200);
  const input = JSON.stringify(samples);
  let python: string;
  try {
    python = execFileSync(
      'python3',
      ['-c', 'import json,sys\nfor v in json.load(sys.stdin): print(json.dumps(v))'],
      { input, encoding: 'utf8' },
    );
  } catch (e) {
    t.fail(`python3 is needed for this test: ${String(e)}`);
    return;
  }
  const lines = python.split('\n').slice(0, -1);
  t.equal(lines.length, samples.length);
  samples.forEach((v, i) => {
    if (pyJsonDumps(v) !== lines[i])
      t.fail(`differs for ${JSON.stringify(v)}: ${pyJsonDumps(v)} vs ${lines[i]}`);
  });
  fc.assert(
    fc.property(
      fc.jsonValue(),
      (v) => JSON.stringify(JSON.parse(pyJsonDumps(v))) === JSON.stringify(JSON.parse(JSON.stringify(v))),
    ),
  );
});
