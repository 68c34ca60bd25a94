import t from 'tap';
import { silentLogger } from '../../src/log.js';
import {
  type FeedEntry,
  PresencePersistence,
  hostsTable,
  loadState,
  planRestore,
  sessionsTable,
  writeState,
} from '../../src/presence/persist.js';
import { PresenceRules } from '../../src/presence/rules.js';
import { Store } from '../../src/store/index.js';
import { tempDir } from '../helpers/tmp.js';

const TIMEOUT = 30;
const open = (t: Parameters<typeof tempDir>[0]) => Store.open({ dir: tempDir(t) });

function counting(store: Store): { writes: () => number } {
  let writes = 0;
  const original = store.write.bind(store);
  store.write = ((fn) => {
    writes++;
    return original(fn);
  }) as Store['write'];
  return { writes: () => writes };
}

t.test('rules state round-trips through the store, quirks included', async (t) => {
  const store = await open(t);
  t.teardown(() => store.close());
  const clock = { now: 1000 };
  const rules = new PresenceRules({ timeout: TIMEOUT, now: () => clock.now });
  rules.heartbeat('a', 'h1');
  clock.now += 1;
  rules.heartbeat('b', 'h2');
  rules.heartbeat('b', 'h3'); // b moved: h2 stays busy
  clock.now += 1;
  rules.heartbeat('c', 'h1'); // c displaces a, whose entry stays
  const feed = new Map<string, FeedEntry>([
    ['b', { hostname: 'h3', order: 2 }],
    ['c', { hostname: 'h1', order: 3 }],
  ]);
  await store.write((tx) => writeState(tx, { rules: rules.state(), feed }, clock.now));

  const restored = loadState(store, { now: clock.now + 2, timeout: TIMEOUT });
  t.ok(restored.fresh, 'saved 2 s ago: fresh');
  t.same([...restored.feed], [...feed], 'feed view and its order');
  const again = new PresenceRules({ timeout: TIMEOUT, now: () => clock.now + 2, restored: restored.rules });
  t.same(again.currentList(), rules.currentList(), 'sessions in backlog order');
  for (const h of ['h1', 'h2', 'h3', 'h4']) t.equal(again.holderOf(h), rules.holderOf(h), `holder of ${h}`);
  t.same(
    again.state().sessions.map((s) => s.refreshed),
    rules.state().sessions.map((s) => s.refreshed),
    'last heartbeat times are the saved ones (the grace does not move them)',
  );
});

t.test(
  'planRestore: timeout + half a timeout of grace, never beyond start + timeout; freshness',
  async (t) => {
    const rows = (lastSeen: number) => ({
      sessions: [['a', { hostname: 'h', lastSeen, order: 0, feed: null }]] as Array<[string, never]>,
      hosts: [],
      savedAt: 1000,
    });
    const at = (lastSeen: number, now: number) =>
      planRestore(rows(lastSeen) as never, { now, timeout: TIMEOUT }).rules.sessions[0]!.expires;
    t.equal(at(999, 1001), 1031, 'quick restart: one timeout from the start');
    t.equal(at(980, 1020), 1025, 'long downtime: last heartbeat + 1.5 timeout');
    t.ok(planRestore(rows(0) as never, { now: 1029, timeout: TIMEOUT }).fresh, 'saved 29 s before');
    t.notOk(
      planRestore(rows(0) as never, { now: 1030, timeout: TIMEOUT }).fresh,
      'saved 30 s before: embargo',
    );
    t.notOk(
      planRestore({ sessions: [], hosts: [] }, { now: 5, timeout: TIMEOUT }).fresh,
      'never saved: embargo',
    );
  },
);

t.test('a save writes only what changed', async (t) => {
  const store = await open(t);
  t.teardown(() => store.close());
  const clock = { now: 1000 };
  const rules = new PresenceRules({ timeout: TIMEOUT, now: () => clock.now });
  for (let i = 0; i < 100; i++) rules.heartbeat(`u${i}`, `h${i}`);
  const state = () => ({ rules: rules.state(), feed: new Map<string, FeedEntry>() });
  t.equal(await store.write((tx) => writeState(tx, state(), clock.now)), 200, '100 sessions + 100 hosts');
  t.equal(await store.write((tx) => writeState(tx, state(), clock.now)), 0, 'nothing changed');
  clock.now += 5;
  rules.heartbeat('u7', 'h7');
  t.equal(await store.write((tx) => writeState(tx, state(), clock.now)), 1, 'one refresh: one row');
  t.same(rules.logout('u8', 'h8').refusal, null);
  t.equal(await store.write((tx) => writeState(tx, state(), clock.now)), 2, 'a logout: session + host');
  t.equal(
    store.read((tx) => tx.count(sessionsTable)),
    99,
  );
  t.equal(
    store.read((tx) => tx.count(hostsTable)),
    99,
  );
  t.equal(store.lastSeq, 0, 'unlogged: nothing in the change log');
});

t.test('saves coalesce: one write in flight, at most one queued behind it', async (t) => {
  const store = await open(t);
  t.teardown(() => store.close());
  const counter = counting(store);
  const clock = { now: 1000 };
  const rules = new PresenceRules({ timeout: TIMEOUT, now: () => clock.now });
  const persistence = new PresencePersistence({
    store,
    logger: silentLogger,
    state: () => ({ rules: rules.state(), feed: new Map() }),
    now: () => clock.now,
    flushIntervalMs: 60_000,
  });
  const saves: Promise<void>[] = [];
  for (let i = 0; i < 1000; i++) {
    rules.heartbeat(`u${i}`, `h${i}`);
    saves.push(persistence.saveNow());
  }
  await Promise.all(saves);
  t.ok(counter.writes() <= 2, `1000 changes, ${counter.writes()} writes`);
  t.equal(
    store.read((tx) => tx.count(sessionsTable)),
    1000,
    'every session saved',
  );
  await persistence.stop();
});
