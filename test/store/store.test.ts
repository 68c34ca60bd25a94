import t from 'tap';
import { Store } from '../../src/store/index.js';
import type { ChangeEvent } from '../../src/store/index.js';
import { tempDir } from '../helpers/tmp.js';

interface Row {
  n: number;
}

t.test('events are published after commit, in commit order, one call per transaction', async (t) => {
  const store = await Store.open({ dir: tempDir(t) });
  t.teardown(() => store.close());
  const rows = store.table<Row>('rows');
  const seen: ChangeEvent[][] = [];
  store.subscribe((evs) => seen.push([...evs]));
  const writes = [];
  for (let i = 0; i < 50; i++) {
    writes.push(
      store.write((tx) => {
        tx.put(rows, `k${i}`, { n: i });
        if (i % 2 === 0) tx.put(rows, `even${i}`, { n: i });
      }),
    );
  }
  await Promise.all(writes);
  t.equal(seen.length, 50, 'one delivery per transaction');
  const seqs = seen.flat().map((e) => e.seq);
  t.same(
    seqs,
    seqs.map((_, i) => i + 1),
    'sequence numbers are dense and increasing',
  );
  t.same(
    seen.map((b) => (b[0]!.after as Row).n),
    [...Array(50).keys()],
    'transactions delivered in the order they were written',
  );
});

t.test('a transaction that throws writes nothing and publishes nothing', async (t) => {
  const store = await Store.open({ dir: tempDir(t) });
  t.teardown(() => store.close());
  const rows = store.table<Row>('rows');
  const seen: ChangeEvent[] = [];
  store.subscribe((evs) => seen.push(...evs));
  const ok1 = store.write((tx) => tx.put(rows, 'a', { n: 1 }));
  const bad = store.write((tx) => {
    tx.put(rows, 'b', { n: 2 });
    throw new Error('rolled back');
  });
  const ok2 = store.write((tx) => tx.put(rows, 'c', { n: tx.get(rows, 'a')!.n + 2 }));
  await ok1;
  await t.rejects(bad, /rolled back/);
  await ok2;
  t.same(
    store.read((tx) => tx.entries(rows).map((e) => e.key)),
    ['a', 'c'],
  );
  t.same(
    seen.map((e) => [e.seq, e.key]),
    [
      [1, 'a'],
      [2, 'c'],
    ],
  );
});

t.test('reads inside a write see its own writes; deletes carry the old row', async (t) => {
  const store = await Store.open({ dir: tempDir(t) });
  t.teardown(() => store.close());
  const rows = store.table<Row>('rows');
  await store.write((tx) => tx.put(rows, 'a', { n: 1 }));
  const seen: ChangeEvent[] = [];
  store.subscribe((evs) => seen.push(...evs));
  await store.write((tx) => {
    tx.put(rows, 'b', { n: 2 });
    t.equal(tx.count(rows), 2);
    t.ok(tx.delete(rows, 'a'));
    t.notOk(tx.delete(rows, 'zz'));
    t.same(tx.values(rows), [{ n: 2 }]);
  });
  t.same(seen[1]!.before, { n: 1 });
  t.equal(seen[1]!.op, 'delete');
  t.equal(seen[1]!.after, null);
});

t.test('change log resumes from a sequence number, survives reopen, is compacted', async (t) => {
  const dir = tempDir(t);
  let store = await Store.open({ dir, changelogMax: 10 });
  const rows = store.table<Row>('rows');
  for (let i = 0; i < 5; i++) await store.write((tx) => tx.put(rows, `k${i}`, { n: i }));
  t.same(
    store.changesSince(3)!.map((e) => e.seq),
    [4, 5],
  );
  t.same(store.changesSince(5), []);
  t.equal(store.changesSince(6), undefined, 'future sequence numbers are not resumable');
  await store.close();
  store = await Store.open({ dir, changelogMax: 10 });
  t.teardown(() => store.close());
  t.equal(store.lastSeq, 5, 'sequence survives a reopen');
  const rows2 = store.table<Row>('rows');
  for (let i = 0; i < 20; i++) await store.write((tx) => tx.put(rows2, `k${i}`, { n: i }));
  await store.compact();
  t.equal(store.lastSeq, 25);
  t.equal(store.changesSince(2), undefined, 'compacted entries are gone: take a snapshot');
  t.same(
    store.changesSince(20)!.map((e) => e.seq),
    [21, 22, 23, 24, 25],
  );
});

t.test('migrations run once, in order; unknown applied migrations refuse to open', async (t) => {
  const dir = tempDir(t);
  const ran: string[] = [];
  const seedTable = { name: 'seed', logged: true };
  const migrations = [
    { id: 'x-0001', up: () => ran.push('x-0001') },
    { id: 'x-0002', up: (tx: import('../../src/store/index.js').WriteTx) => tx.put(seedTable, 'a', 1) },
  ];
  let store = await Store.open({ dir, migrations });
  t.equal(store.schemaVersion, 2);
  await store.close();
  store = await Store.open({ dir, migrations });
  t.same(ran, ['x-0001'], 'not re-applied');
  t.equal(
    store.read((tx) => tx.get(store.table<number>('seed'), 'a')),
    1,
  );
  await store.close();
  await t.rejects(Store.open({ dir, migrations: migrations.slice(0, 1) }), { code: 'GH_STORE_SCHEMA_TOO_NEW' });
});
