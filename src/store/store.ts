import fs from 'node:fs';
import path from 'node:path';
import { type Database, type RootDatabase, open } from 'lmdb';
import { GatehouseError, errorMessage } from '../errors.js';
import { type Logger, silentLogger } from '../log.js';
import { BufferedWriteTx, compareKeys } from './write-tx.js';
import type {
  ChangeEvent,
  ChangeListener,
  CommittedWrites,
  Entry,
  Key,
  Migration,
  ReadTx,
  ReplicaImage,
  ReplicationHooks,
  RowWrite,
  Table,
  WriteTx,
} from './types.js';

export interface StoreOptions {
  /** Data directory; the LMDB file is `<dir>/gatehouse.mdb`. Created if missing. */
  dir: string;
  migrations?: readonly Migration[];
  logger?: Logger;
  /** How many change-log entries to keep for `changesSince` (resume). */
  changelogMax?: number;
  /** Clock for event timestamps (tests). */
  now?: () => number;
}

const META = '_meta';
const CHANGELOG = '_changelog';
const MIGRATIONS = '_migrations';

/**
 * The embedded store: one LMDB environment with named tables. Every write is one LMDB
 * transaction; the changes of logged tables get consecutive sequence numbers, are appended to
 * a persisted change log in the same transaction, and are delivered to subscribers only after
 * commit, in commit order, one call per transaction.
 */
export class Store {
  private readonly dbs = new Map<string, Database>();
  private readonly tables = new Map<string, Table<unknown>>();
  private readonly listeners = new Set<ChangeListener>();
  private readonly meta: Database;
  private readonly changelog: Database;
  private seq: number;
  private publishChain: Promise<void> = Promise.resolve();
  private closed = false;
  private compacting = false;
  private hooks: ReplicationHooks<unknown> = {};

  private constructor(
    private readonly root: RootDatabase,
    readonly dir: string,
    private readonly logger: Logger,
    private readonly changelogMax: number,
    private readonly now: () => number,
  ) {
    this.meta = root.openDB({ name: META });
    this.changelog = root.openDB({ name: CHANGELOG, keyEncoding: 'uint32' });
    this.seq = (this.meta.get('seq') as number | undefined) ?? 0;
  }

  static async open(opts: StoreOptions): Promise<Store> {
    const logger = opts.logger ?? silentLogger;
    let root: RootDatabase;
    try {
      fs.mkdirSync(opts.dir, { recursive: true });
      root = open({ path: path.join(opts.dir, 'gatehouse.mdb'), maxDbs: 64, compression: false });
    } catch (e) {
      throw new GatehouseError(
        'GH_STORE_OPEN_FAILED',
        `cannot open the store in ${opts.dir}: ${errorMessage(e)}; check the directory exists and is writable`,
        undefined,
        { cause: e },
      );
    }
    const store = new Store(root, opts.dir, logger, opts.changelogMax ?? 100_000, opts.now ?? Date.now);
    await store.migrate(opts.migrations ?? []);
    return store;
  }

  /** Declares (or returns) a table. Logged tables feed the change log and subscribers. */
  table<T>(name: string, opts: { logged?: boolean } = {}): Table<T> {
    if (name.startsWith('_')) throw new GatehouseError('GH_INTERNAL', `table name ${name} is reserved`);
    const existing = this.tables.get(name);
    if (existing) return existing as Table<T>;
    const t: Table<T> = { name, logged: opts.logged ?? true };
    this.tables.set(name, t as Table<unknown>);
    return t;
  }

  private db(table: Table<unknown>): Database {
    let db = this.dbs.get(table.name);
    if (!db) {
      db = this.root.openDB({ name: `t:${table.name}` });
      this.dbs.set(table.name, db);
    }
    return db;
  }

  /** Runs `fn` against a consistent view. Synchronous: safe on packet hot paths. */
  read<R>(fn: (tx: ReadTx) => R): R {
    this.assertOpen();
    const tx: ReadTx = {
      get: <T>(t: Table<T>, key: Key) => this.db(t as Table<unknown>).get(key) as T | undefined,
      has: (t, key) => this.db(t).doesExist(key),
      entries: <T>(t: Table<T>): Entry<T>[] => {
        const out: Entry<T>[] = [];
        for (const { key, value } of this.db(t as Table<unknown>).getRange()) {
          out.push({ key: key as Key, value: value as T });
        }
        return out.sort((a, b) => compareKeys(a.key, b.key));
      },
      values: <T>(t: Table<T>) => tx.entries(t).map((e) => e.value),
      count: (t) => this.db(t).getCount(),
    };
    return fn(tx);
  }

  /**
   * Runs `fn` in a write transaction. `fn` must be synchronous; if it throws nothing is
   * written and no event is published. Resolves after the commit is durable.
   */
  write<R>(fn: (tx: WriteTx) => R): Promise<R> {
    this.assertOpen();
    let events: ChangeEvent[] = [];
    let record: unknown;
    const committed = this.root.transaction(() => {
      const tx = new BufferedWriteTx((t) => this.db(t), this.now());
      const result = fn(tx);
      if (result instanceof Promise) {
        throw new GatehouseError('GH_INTERNAL', 'store.write callbacks must be synchronous');
      }
      // The one check of a standby (src/ha): a write that would change a replicated table is
      // refused here, whoever asked for it (RPC, admin API, netboot, DHCP, CLI operations).
      this.hooks.admit?.(tx.writtenTables());
      tx.apply();
      if (tx.events.length > 0) {
        events = tx.events.map((e) => ({ ...e, seq: ++this.seq }));
        for (const ev of events) void this.changelog.put(ev.seq, ev);
        void this.meta.put('seq', this.seq);
      }
      if (this.hooks.journal) {
        record = this.hooks.journal({ writes: tx.rowWrites(), events });
      }
      return result;
    });
    // Publishing is chained so subscribers see transactions in commit order even when a
    // later batch resolves first.
    const published = this.publishChain.then(() => committed).then(
      () => {
        this.publish(events);
        // Boxed so the chain below does not wait for it.
        return { wait: record !== undefined ? this.hooks.committed?.(record) : undefined };
      },
      (e: unknown) => {
        // The batch did not commit: re-read the persisted sequence so numbers stay dense.
        this.seq = (this.meta.get('seq') as number | undefined) ?? 0;
        if (record !== undefined) this.hooks.aborted?.();
        throw e;
      },
    );
    this.publishChain = published.then(
      () => {},
      () => {},
    );
    // `committed` hooks may return a promise (synchronous replication waits for the standby's
    // acknowledgement): the caller's answer waits for it, the next transaction does not.
    return published.then(({ wait }) => (wait ? wait.then(() => committed) : committed));
  }

  /** Why writes to replicated tables are refused right now (a standby), or undefined. */
  writeRefusal(): string | undefined {
    try {
      this.hooks.admit?.(new Set(this.tableNames()));
      return undefined;
    } catch (e) {
      return errorMessage(e);
    }
  }

  /** Installs the replication hooks (src/ha). One set per store. */
  setReplicationHooks<R>(hooks: ReplicationHooks<R>): void {
    this.hooks = hooks as ReplicationHooks<unknown>;
  }

  /** An internal database (name starting with `_ha`) for replication bookkeeping. */
  internalDb(name: string, opts: { uintKeys?: boolean } = {}): Database {
    if (!name.startsWith('_ha')) throw new GatehouseError('GH_INTERNAL', `internal database ${name} is not _ha*`);
    return this.root.openDB({ name, ...(opts.uintKeys ? { keyEncoding: 'uint32' as const } : {}) });
  }

  /** Names of every table that has ever been written in this store (declared or not). */
  tableNames(): string[] {
    const out: string[] = [];
    for (const k of this.root.getKeys()) {
      const name = String(k);
      if (name.startsWith('t:')) out.push(name.slice(2));
    }
    return out;
  }

  private dbByName(name: string): Database {
    return this.db(this.tables.get(name) ?? { name, logged: false });
  }

  /**
   * Applies one transaction replicated from another store, atomically: its row writes, its
   * change events under their original sequence numbers (so `?since=` means the same on both
   * sides), and `inTx` (the replica's bookkeeping) in the same LMDB transaction. Subscribers
   * then receive the events as for a local write. Throws GH_HA_DIVERGED when the sequence
   * numbers do not follow this store's; `check` runs first in the transaction and may throw too
   * (nothing is written then). Calls are applied in call order, several per LMDB commit.
   */
  applyReplicated(tx: CommittedWrites, inTx: () => void, check?: () => void): Promise<void> {
    this.assertOpen();
    const first = tx.events[0]?.seq;
    const committed = this.root.transaction(() => {
      check?.();
      if (first !== undefined && first !== this.seq + 1) {
        throw new GatehouseError(
          'GH_HA_DIVERGED',
          `replicated transaction starts at seq ${first} but this store is at ${this.seq}; a snapshot is needed`,
        );
      }
      this.putRows(tx.writes);
      for (const ev of tx.events) void this.changelog.put(ev.seq, ev);
      if (tx.events.length > 0) {
        this.seq = tx.events[tx.events.length - 1]!.seq;
        void this.meta.put('seq', this.seq);
      }
      inTx();
    });
    return this.chainPublish(committed, tx.events);
  }

  private putRows(writes: readonly RowWrite[]): void {
    for (const w of writes) {
      const db = this.dbByName(w[0]);
      if (w.length === 2) void db.remove(w[1]);
      else void db.put(w[1], w[2]);
    }
  }

  private chainPublish(committed: Promise<unknown>, events: ChangeEvent[]): Promise<void> {
    const published = this.publishChain.then(() => committed).then(
      () => this.publish(events),
      (e: unknown) => {
        this.seq = (this.meta.get('seq') as number | undefined) ?? 0;
        throw e;
      },
    );
    this.publishChain = published.catch(() => {});
    return published;
  }

  /**
   * A consistent image of the given tables, the change log and the sequence, read in one
   * synchronous pass (one LMDB read snapshot). `extra` reads more in the same pass.
   */
  image<X>(tables: readonly string[], extra: () => X): ReplicaImage & { extra: X } {
    this.assertOpen();
    const rows: ReplicaImage['rows'] = [];
    for (const name of tables) {
      for (const { key, value } of this.dbByName(name).getRange()) rows.push([name, key as Key, value]);
    }
    const changelog: ChangeEvent[] = [];
    for (const { value } of this.changelog.getRange()) changelog.push(value as ChangeEvent);
    const seq = (this.meta.get('seq') as number | undefined) ?? 0;
    return { tables: [...tables], rows, changelog, seq, extra: extra() };
  }

  /**
   * Replaces the given tables, the change log and the sequence by an image (a replica's
   * snapshot), with `inTx` in the same transaction. Subscribers receive the differences of
   * logged tables as one transaction numbered with the image's last sequence.
   */
  applyImage(image: ReplicaImage, inTx: () => void): Promise<void> {
    this.assertOpen();
    let events: ChangeEvent[] = [];
    const committed = this.root.transaction(() => {
      const incoming = new Map<string, Map<Key, unknown>>();
      for (const name of image.tables) incoming.set(name, new Map());
      for (const [name, key, value] of image.rows) incoming.get(name)?.set(key, value);
      const ts = this.now();
      const diff: Omit<ChangeEvent, 'seq'>[] = [];
      for (const [name, rows] of incoming) {
        const db = this.dbByName(name);
        const logged = this.tables.get(name)?.logged ?? false;
        for (const { key, value } of db.getRange()) {
          const k = key as Key;
          if (rows.has(k)) continue;
          void db.remove(k);
          if (logged) diff.push({ table: name, op: 'delete', key: k, before: value, after: null, ts });
        }
        for (const [k, value] of rows) {
          const before = db.get(k);
          if (logged && JSON.stringify(before) === JSON.stringify(value)) continue;
          void db.put(k, value);
          if (logged) diff.push({ table: name, op: 'put', key: k, before: before ?? null, after: value, ts });
        }
      }
      for (const { key } of this.changelog.getRange()) void this.changelog.remove(key);
      for (const ev of image.changelog) void this.changelog.put(ev.seq, ev);
      this.seq = image.seq;
      void this.meta.put('seq', this.seq);
      events = diff.map((e) => ({ ...e, seq: image.seq }));
      inTx();
    });
    return this.chainPublish(committed, events);
  }

  private publish(events: ChangeEvent[]): void {
    if (events.length === 0) return;
    for (const listener of this.listeners) {
      try {
        listener(events);
      } catch (e) {
        this.logger.error('store.listener_failed', { error: e });
      }
    }
    const last = events[events.length - 1]!.seq;
    if (last % 1000 < events.length) void this.compact();
  }

  /** Receives every committed transaction's events, in commit order. Returns an unsubscribe. */
  subscribe(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Highest committed sequence number. */
  get lastSeq(): number {
    return this.seq;
  }

  /**
   * Events with seq > `since`, or undefined when the log no longer holds them all (the
   * consumer must take a fresh snapshot instead).
   */
  changesSince(since: number, tables?: readonly string[]): ChangeEvent[] | undefined {
    if (since > this.seq) return undefined;
    if (since === this.seq) return [];
    const oldest = this.firstLoggedSeq() ?? this.seq + 1;
    if (since + 1 < oldest) return undefined;
    const out: ChangeEvent[] = [];
    for (const { value } of this.changelog.getRange({ start: since + 1 })) {
      const ev = value as ChangeEvent;
      if (!tables || tables.includes(ev.table)) out.push(ev);
    }
    return out;
  }

  /** Oldest sequence number still in the change log (0 when empty). */
  get oldestLoggedSeq(): number {
    return this.firstLoggedSeq() ?? 0;
  }

  private firstLoggedSeq(): number | undefined {
    for (const key of this.changelog.getKeys({ limit: 1 })) return key as number;
    return undefined;
  }

  /** Drops change-log entries beyond `changelogMax`. */
  async compact(): Promise<number> {
    if (this.compacting || this.closed) return 0;
    this.compacting = true;
    try {
      const cutoff = this.seq - this.changelogMax;
      if (cutoff <= 0) return 0;
      let removed = 0;
      await this.root.transaction(() => {
        for (const { key } of this.changelog.getRange({ end: cutoff + 1 })) {
          void this.changelog.remove(key);
          removed++;
        }
      });
      return removed;
    } finally {
      this.compacting = false;
    }
  }

  private async migrate(migrations: readonly Migration[]): Promise<void> {
    const applied = this.root.openDB({ name: MIGRATIONS });
    const known = new Set(migrations.map((m) => m.id));
    const unknown = [...applied.getKeys()].map(String).filter((id) => !known.has(id));
    if (unknown.length > 0) {
      throw new GatehouseError(
        'GH_STORE_SCHEMA_TOO_NEW',
        `the store in ${this.dir} was written by a newer Gatehouse (migrations ${unknown.join(', ')}); upgrade Gatehouse or use another --data directory`,
      );
    }
    for (const m of migrations) {
      if (applied.get(m.id) !== undefined) continue;
      await this.write((tx) => m.up(tx));
      await applied.put(m.id, { at: new Date(this.now()).toISOString() });
      this.logger.info('store.migrated', { migration: m.id });
    }
    await this.meta.put('schemaVersion', migrations.length);
  }

  get schemaVersion(): number {
    return (this.meta.get('schemaVersion') as number | undefined) ?? 0;
  }

  private assertOpen(): void {
    if (this.closed) throw new GatehouseError('GH_INTERNAL', 'the store is closed');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.publishChain;
    this.closed = true;
    this.listeners.clear();
    await this.root.close();
  }
}
