import t from 'tap';
import {
  dnsSerialsTable,
  nextSerial,
  planSerials,
  serialGreater,
  writeSerialRows,
} from '../../src/dns/serials.js';
import type { ZoneContent } from '../../src/dns/zone.js';
import { allMigrations } from '../../src/migrations.js';
import { Store } from '../../src/store/index.js';
import { tempDir } from '../helpers/tmp.js';

function content(id: string, hash: string, generated = true): ZoneContent {
  const [view, name] = id.split('/') as ['normal', string];
  return {
    id,
    view,
    name,
    hash,
    generated,
    ttl: 10,
    records: [],
    soa: { mname: 'ns', rname: 'h', refresh: 1, retry: 1, expire: 1, minimum: 1 },
  };
}

t.test('fresh zone gets 1; unchanged keeps; changed gets +1', async (t) => {
  const p1 = planSerials([content('normal/prolo', 'h1')], new Map(), { seq: 5, bumpGenerated: false });
  t.equal(p1.zones[0]!.serial, 1);
  t.same(p1.writes.get('normal/prolo'), {
    serial: 1,
    hash: 'h1',
    history: [{ serial: 1, seq: 5, hash: 'h1' }],
    reserved: 101,
  });
  t.ok(p1.mustPersist, 'a new zone reserves serials: the row must be committed before serving');
  const rows = new Map([['normal/prolo', p1.writes.get('normal/prolo')!]]);
  const p2 = planSerials([content('normal/prolo', 'h1')], rows, { seq: 6, bumpGenerated: false });
  t.equal(p2.zones[0]!.serial, 1);
  t.equal(p2.writes.size, 0, 'nothing to write when nothing changed');
  const p3 = planSerials([content('normal/prolo', 'h2')], rows, { seq: 7, bumpGenerated: false });
  t.equal(p3.zones[0]!.serial, 2);
  t.same(
    p3.writes.get('normal/prolo')!.history.map((h) => h.serial),
    [1, 2],
  );
  t.notOk(p3.mustPersist, 'within the reservation the row is written behind the swap');
});

t.test('after a crash (reservation still held) changed content restarts above the reservation', async (t) => {
  const rows = new Map([['normal/prolo', { serial: 10, hash: 'old', history: [], reserved: 110 }]]);
  const crashed = planSerials([content('normal/prolo', 'new')], rows, {
    seq: 1,
    bumpGenerated: false,
    afterRestart: true,
  });
  t.equal(crashed.zones[0]!.serial, 111, 'a serial up to 110 may have been served with other content');
  t.ok(crashed.mustPersist);
  const same = planSerials([content('normal/prolo', 'old')], rows, {
    seq: 1,
    bumpGenerated: false,
    afterRestart: true,
  });
  t.equal(
    same.zones[0]!.serial,
    111,
    'unchanged content moves too: 11..110 may have been served, even for this content',
  );
  const clean = new Map([['normal/prolo', { serial: 10, hash: 'old', history: [], reserved: 10 }]]);
  const kept = planSerials([content('normal/prolo', 'old')], clean, {
    seq: 1,
    bumpGenerated: false,
    afterRestart: true,
  });
  t.equal(
    kept.zones[0]!.serial,
    10,
    'after a clean stop (reservation released) unchanged content keeps its serial',
  );
  const running = planSerials([content('normal/prolo', 'new')], rows, { seq: 1, bumpGenerated: false });
  t.equal(running.zones[0]!.serial, 11, 'while running, +1');
});

t.test('all-zones mode bumps every MDB-generated zone on an MDB commit, like the original', async (t) => {
  const rows = new Map([
    ['normal/prolo', { serial: 4, hash: 'a', history: [] }],
    ['normal/localhost', { serial: 1, hash: 'l', history: [] }],
  ]);
  const p = planSerials([content('normal/prolo', 'a'), content('normal/localhost', 'l', false)], rows, {
    seq: 9,
    bumpGenerated: true,
  });
  t.same(
    p.zones.map((z) => z.serial),
    [5, 1],
    'generated +1 although unchanged; static zone untouched',
  );
});

t.test('RFC 1982 arithmetic: wrap skips 0, comparison across the wrap', async (t) => {
  t.equal(nextSerial(2 ** 32 - 1), 1);
  t.ok(serialGreater(1, 2 ** 32 - 1));
  t.notOk(serialGreater(5, 5));
  t.ok(serialGreater(6, 5));
  t.notOk(serialGreater(5, 6));
});

t.test('serials persist across restarts and never go backwards (scenario 31)', async (t) => {
  const dir = tempDir(t);
  let store = await Store.open({ dir, migrations: allMigrations });
  const rows0 = () =>
    new Map([['normal/prolo', store.read((tx) => tx.get(dnsSerialsTable, 'normal/prolo'))]]);
  let p = planSerials([content('normal/prolo', 'h1')], rows0(), { seq: 1, bumpGenerated: false });
  await store.write((tx) => writeSerialRows(tx, p.writes));
  p = planSerials([content('normal/prolo', 'h2')], rows0(), { seq: 2, bumpGenerated: false });
  await store.write((tx) => writeSerialRows(tx, p.writes));
  await store.close();
  store = await Store.open({ dir, migrations: allMigrations });
  t.teardown(() => store.close());
  t.equal(
    store.read((tx) => tx.get(dnsSerialsTable, 'normal/prolo'))!.serial,
    2,
    'serial survives the restart',
  );
  p = planSerials([content('normal/prolo', 'h2')], rows0(), { seq: 3, bumpGenerated: false });
  t.equal(p.zones[0]!.serial, 2, 'same content after restart: same serial');
  p = planSerials([content('normal/prolo', 'h1')], rows0(), { seq: 3, bumpGenerated: false });
  t.equal(p.zones[0]!.serial, 3, 'content returning to an old version still moves forward');
});

t.test('a concurrent writer that went further wins: the stored serial never decreases', async (t) => {
  const store = await Store.open({ dir: tempDir(t), migrations: allMigrations });
  t.teardown(() => store.close());
  await store.write((tx) =>
    tx.put(dnsSerialsTable, 'normal/prolo', { serial: 10, hash: 'other', history: [] }),
  );
  const planned = new Map([
    ['normal/prolo', { serial: 3, hash: 'mine', history: [{ serial: 3, seq: 1, hash: 'mine' }] }],
  ]);
  const stored = await store.write((tx) => writeSerialRows(tx, planned));
  t.equal(stored.get('normal/prolo')!.serial, 11);
  t.equal(store.read((tx) => tx.get(dnsSerialsTable, 'normal/prolo'))!.serial, 11);
});
