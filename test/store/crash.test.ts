import { spawn } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import { Store } from '../../src/store/index.js';
import { repoRoot } from '../helpers/spawn-gatehouse.js';
import { tempDir } from '../helpers/tmp.js';

t.test('SIGKILL during a write burst loses no acknowledged write and leaves nothing half-written', async (t) => {
  const dir = tempDir(t);
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'test/fixtures/store-burst.ts'), dir], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const acked: number[] = [];
  let buf = '';
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) if (/^\d+$/.test(l)) acked.push(Number(l));
      if (acked.length >= 2000 && child.exitCode === null && !child.killed) {
        child.kill('SIGKILL');
        resolve();
      }
    });
  });
  await new Promise((r) => child.once('exit', r));
  t.ok(acked.length >= 2000, `${acked.length} writes acknowledged before the kill`);

  const store = await Store.open({ dir });
  t.teardown(() => store.close());
  const rows = store.table<{ tx: number; part: string }>('rows');
  const present = new Map<number, Set<string>>();
  for (const r of store.read((tx) => tx.values(rows))) {
    if (!present.has(r.tx)) present.set(r.tx, new Set());
    present.get(r.tx)!.add(r.part);
  }
  const missing = acked.filter((id) => !present.has(id));
  t.same(missing, [], 'every acknowledged transaction is present after reopen');
  const half = [...present.entries()].filter(([, parts]) => parts.size !== 2).map(([id]) => id);
  t.same(half, [], 'no transaction is half-written');
  t.equal(store.lastSeq, present.size * 2, 'the change log sequence matches the committed rows');
});
