import fs from 'node:fs';
import path from 'node:path';
import { type Database, type RootDatabase, open } from 'lmdb';
import { GatehouseError, errorMessage } from '../errors.js';
import { type Logger, silentLogger } from '../log.js';
import { BufferedWriteTx, compareKeys } from './write-tx.js';
import type { ChangeEvent, ChangeListener, Entry, Key, Migration, ReadTx, Table, WriteTx } from './types.js';

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
    const committed = this.root.transaction(() => {
      const tx = new BufferedWriteTx((t) => this.db(t), this.now());
      const result = fn(tx);
      if (result instanceof Promise) {
        throw new GatehouseError('GH_INTERNAL', 'store.write callbacks must be synchronous');
      }
      tx.apply();
      if (tx.events.length > 0) {
        events = tx.events.map((e) => ({ ...e, seq: ++this.seq }));
        for (const ev of events) void this.changelog.put(ev.seq, ev);
        void this.meta.put('seq', this.seq);
      }
      return result;
    });
    // Publishing is chained so subscribers see transactions in commit order even when a
    // later batch resolves first.
    const published = this.publishChain.then(() => committed).then(
      () => this.publish(events),
      (e: unknown) => {
        // The batch did not commit: re-read the persisted sequence so numbers stay dense.
        this.seq = (this.meta.get('seq') as number | undefined) ?? 0;
        throw e;
      },
    );
    this.publishChain = published.catch(() => {});
    return published.then(() => committed);
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
