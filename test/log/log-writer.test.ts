/**
 * The batched stderr writer of the structured log (src/log-writer.ts): the lines of one
 * event-loop turn in one write, in order, none lost when the process exits or crashes.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import { createLogger } from '../../src/log.js';
import { repoRoot } from '../helpers/spawn-gatehouse.js';

t.test("one turn's lines go out in one write, in order", async (t) => {
  const writes: string[] = [];
  const original = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    writes.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    const log = createLogger();
    for (let i = 0; i < 100; i++) log.info('test.line', { i });
    t.equal(writes.length, 0, 'nothing written during the turn');
    await new Promise((r) => setImmediate(r));
  } finally {
    process.stderr.write = original;
  }
  t.equal(writes.length, 1, 'one write for the turn');
  const lines = writes[0]!.split('\n');
  t.equal(lines.pop(), '', 'ends with a newline');
  t.same(
    lines.map((l) => (JSON.parse(l) as { i: number }).i),
    Array.from({ length: 100 }, (_, i) => i),
    'every line, in order',
  );
});

t.test('a bigint field is written as a string', async (t) => {
  const lines: string[] = [];
  createLogger({ sink: (l) => lines.push(l) }).info('test.big', { n: 2n ** 70n });
  t.equal((JSON.parse(lines[0]!) as { n: string }).n, '1180591620717411303424');
});

/** Runs a script that logs with the default sink, then exits as `how`. */
function runChild(how: 'exit' | 'throw') {
  const logModule = path.join(repoRoot, 'src/log.ts');
  const script = `
    const { createLogger } = await import(${JSON.stringify(logModule)});
    const log = createLogger();
    log.info('child.one');
    log.info('child.two');
    ${how === 'exit' ? 'process.exit(3);' : "throw new Error('boom');"}
  `;
  return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
}

t.test('pending lines are written when the process exits', async (t) => {
  const r = runChild('exit');
  t.equal(r.status, 3);
  t.same(
    r.stderr
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { event: string }).event),
    ['child.one', 'child.two'],
  );
});

t.test('pending lines come before the stack trace of an uncaught exception', async (t) => {
  const r = runChild('throw');
  t.not(r.status, 0);
  const one = r.stderr.indexOf('child.one');
  const two = r.stderr.indexOf('child.two');
  const boom = r.stderr.indexOf('boom');
  t.ok(one >= 0 && two > one, 'both lines, in order');
  t.ok(boom > two, 'then the error');
});
