/**
 * Lease persistence: the /24 block codec (round trips, never throws on garbage), the writer's
 * group commit (callbacks after their rows are durable, in order, early flush on a full batch)
 * and the conversion of per-lease rows written by earlier versions.
 */
import fc from 'fast-check';
import t from 'tap';
import { ip } from '../../src/dhcp/ipv4.js';
import {
  blockBase,
  blockKey,
  decodeBlock,
  encodeBlock,
  encodeEntry,
  parseBlockKey,
} from '../../src/dhcp/lease-blocks.js';
import {
  StoreLeaseWriter,
  declareDhcpTables,
  leasesTable,
  readLeaseTable,
  readLeases,
} from '../../src/dhcp/lease-store.js';
import type { LeaseRecord } from '../../src/dhcp/leases.js';
import { silentLogger } from '../../src/log.js';
import { allMigrations } from '../../src/migrations.js';
import { Store } from '../../src/store/index.js';
import { tempDir } from '../helpers/tmp.js';

function lease(addr: string, over: Partial<LeaseRecord> = {}): LeaseRecord {
  return {
    ip: addr,
    mac: '02:00:00:00:00:01',
    clientId: '0102000000000001',
    hostname: null,
    state: 'bound',
    starts: 1_764_000_000_000,
    expires: 1_764_000_030_000,
    updatedAt: 1_764_000_000_000,
    ...over,
  };
}

const latin1 = fc.string({ maxLength: 40 }).map((s) => Buffer.from(s, 'utf8').toString('latin1'));
const record = fc.record({
  offset: fc.integer({ min: 0, max: 255 }),
  mac: latin1,
  clientId: fc.option(latin1, { nil: null }),
  hostname: fc.option(latin1, { nil: null }),
  state: fc.constantFrom('bound' as const, 'released' as const, 'declined' as const),
  starts: fc.double({ noNaN: true }),
  expires: fc.integer({ min: 0, max: 2 ** 50 }),
  updatedAt: fc.integer({ min: 0, max: 2 ** 50 }),
});

t.test('block keys name aligned /24s and nothing else', async (t) => {
  t.equal(blockKey(blockBase(ip('10.10.3.77'))), '10.10.3.0/24');
  t.equal(parseBlockKey('10.10.3.0/24'), ip('10.10.3.0'));
  t.equal(parseBlockKey('10.10.3.7/24'), undefined, 'not aligned');
  t.equal(parseBlockKey('10.10.3.7'), undefined, 'a per-lease row');
});

t.test('blocks round-trip every lease field; entries may come in any order', async (t) => {
  const base = ip('192.168.250.0');
  fc.assert(
    fc.property(fc.uniqueArray(record, { selector: (r) => r.offset, maxLength: 40 }), (rs) => {
      const records = rs.map(({ offset, ...r }) => ({ ...r, ip: `192.168.250.${offset}` }));
      const entries = records.map((r, i) => encodeEntry(base + rs[i]!.offset, r));
      const back = decodeBlock(base, encodeBlock(entries));
      t.notOk(back.error);
      t.same(back.records, records);
    }),
    { numRuns: 200 },
  );
});

t.test('the block decoder never throws and keeps what precedes damage', async (t) => {
  const base = ip('10.0.0.0');
  fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => void decodeBlock(base, b)));
  const good = encodeBlock([
    encodeEntry(base + 1, lease('10.0.0.1')),
    encodeEntry(base + 2, lease('10.0.0.2')),
  ]);
  const cut = decodeBlock(base, good.subarray(0, good.length - 3));
  t.equal(cut.records.length, 1);
  t.match(cut.error, /truncated/);
  t.match(decodeBlock(base, Uint8Array.of(9)).error, /unknown block format/);
});

async function openStore(t: Parameters<typeof tempDir>[0]): Promise<Store> {
  const store = await Store.open({ dir: tempDir(t), migrations: allMigrations });
  declareDhcpTables(store);
  t.teardown(() => store.close());
  return store;
}

t.test('afterCommit runs once the rows before it are durable, in order', async (t) => {
  const store = await openStore(t);
  const writer = new StoreLeaseWriter(store, silentLogger, 5, 1000);
  const seen: string[] = [];
  const inStore = () => store.read((tx) => readLeases(tx).map((r) => r.ip));
  writer.persist(lease('10.10.0.1'), ip('10.10.0.1'));
  writer.afterCommit((e) => seen.push(`a:${e ?? 'ok'}:${inStore().join(',')}`));
  writer.persist(lease('10.10.1.9'), ip('10.10.1.9'));
  writer.afterCommit((e) => seen.push(`b:${e ?? 'ok'}:${inStore().join(',')}`));
  t.same(seen, [], 'nothing before the commit');
  await writer.drain();
  t.same(seen, ['a:ok:10.10.0.1,10.10.1.9', 'b:ok:10.10.0.1,10.10.1.9']);
  // A later commit keeps the rest of the block.
  writer.persist(lease('10.10.0.2', { mac: '02:00:00:00:00:02' }), ip('10.10.0.2'));
  writer.afterCommit(() => seen.push('c'));
  await writer.drain();
  t.same(seen.at(-1), 'c');
  t.same(
    store.read((tx) => readLeases(tx)).map((r) => [r.ip, r.mac]),
    [
      ['10.10.0.1', '02:00:00:00:00:01'],
      ['10.10.0.2', '02:00:00:00:00:02'],
      ['10.10.1.9', '02:00:00:00:00:01'],
    ],
  );
  t.same(
    store.read((tx) => tx.entries(leasesTable).map((e) => e.key)),
    ['10.10.0.0/24', '10.10.1.0/24'],
    'one row per /24',
  );
});

t.test('a full batch of waiting ACKs commits without waiting for the interval', async (t) => {
  const store = await openStore(t);
  const writer = new StoreLeaseWriter(store, silentLogger, 60_000, 4);
  // An earlier commit makes the interval apply.
  writer.persist(lease('10.10.0.1'), ip('10.10.0.1'));
  await writer.drain();
  let done = 0;
  for (let i = 2; i < 6; i++) {
    writer.persist(lease(`10.10.0.${i}`), ip(`10.10.0.${i}`));
    writer.afterCommit(() => done++);
  }
  const waited = Date.now();
  while (done < 4 && Date.now() - waited < 5000) await new Promise((r) => setTimeout(r, 5));
  t.equal(done, 4, 'committed long before the 60 s interval');
  await writer.close();
});

t.test('per-lease rows of earlier versions are read, and rewritten as blocks', async (t) => {
  const store = await openStore(t);
  await store.write((tx) => {
    tx.put(leasesTable, '10.10.0.7', lease('10.10.0.7'));
    tx.put(leasesTable, '10.10.0.8', ['02:00:00:00:00:08', null, 'box8', 'released', 1, 2, 3]);
  });
  const before = store.read((tx) => readLeaseTable(tx));
  t.same(before.perLeaseKeys, ['10.10.0.7', '10.10.0.8']);
  t.match(before.records, [
    { ip: '10.10.0.7', state: 'bound' },
    { ip: '10.10.0.8', mac: '02:00:00:00:00:08', hostname: 'box8', state: 'released', updatedAt: 3 },
  ]);
  const writer = new StoreLeaseWriter(store, silentLogger);
  writer.seed(before.records);
  await writer.convert(before.perLeaseKeys);
  const after = store.read((tx) => readLeaseTable(tx));
  t.same(after.perLeaseKeys, []);
  t.same(after.records, before.records);
  t.same(
    store.read((tx) => tx.entries(leasesTable).map((e) => e.key)),
    ['10.10.0.0/24'],
  );
});
