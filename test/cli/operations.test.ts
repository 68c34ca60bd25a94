import t from 'tap';
import { registerOperation } from '../../src/cli/operations.js';
import { runOperation } from '../../src/cli/run-operation.js';
import { writeServerLock } from '../../src/cli/server-lock.js';
import { defaultConfig } from '../../src/config/index.js';
import { startGatehouse } from '../helpers/gatehouse.js';
import { tempDir } from '../helpers/tmp.js';

const notes = { name: 'notes' };

registerOperation({
  name: 'test-note',
  async run(ctx, args, output) {
    const table = ctx.store.table<string>(notes.name);
    const text = args.files.input ?? String(args.flags.text ?? '');
    await ctx.store.write((tx) => tx.put(table, args.positionals[0] ?? 'k', text));
    output.progress(1, 1, 'notes');
    output.out(`stored ${args.positionals[0]}`);
    if (args.flags.fail) throw new Error('asked to fail');
    return 0;
  },
});

function captureIo() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

t.test('without a running server an operation writes the store directly', async (t) => {
  const config = defaultConfig({ dataDir: tempDir(t) });
  const { io, out } = captureIo();
  t.equal(
    await runOperation('test-note', { positionals: ['a'], flags: { text: 'hi' }, files: {} }, config, io),
    0,
  );
  t.same(out, ['stored a']);
});

t.test('with a running server the operation runs inside it and its feed sees the write', async (t) => {
  const gh = await startGatehouse(t);
  writeServerLock(gh.config.dataDir, { pid: process.pid, http: gh.app.http.addresses()[0]! });
  const seen: string[] = [];
  gh.app.store.subscribe((evs) => seen.push(...evs.map((e) => String(e.after))));
  const { io, out, err } = captureIo();
  const code = await runOperation(
    'test-note',
    { positionals: ['b'], flags: {}, files: { input: 'from file' } },
    gh.config,
    io,
  );
  t.equal(code, 0);
  t.same(out, ['stored b']);
  t.match(err.join('\n'), /notes: 1\/1/);
  t.same(seen, ['from file'], 'the server published the change');
  const failing = captureIo();
  t.equal(
    await runOperation(
      'test-note',
      { positionals: ['c'], flags: { fail: true }, files: {} },
      gh.config,
      failing.io,
    ),
    1,
  );
  t.match(failing.err.join('\n'), /asked to fail/);
});

t.test('the ops API refuses callers without the admin token', async (t) => {
  const gh = await startGatehouse(t);
  const res = await fetch(`${gh.baseUrl}/api/v1/ops/test-note`, { method: 'POST', body: '{}' });
  t.equal(res.status, 401);
  t.match(await res.text(), /Bearer/);
});
