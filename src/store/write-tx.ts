import type { Database } from 'lmdb';
import type { ChangeEvent, Entry, Key, RowWrite, Table, WriteTx } from './types.js';

const DELETED = Symbol('deleted');
type Pending = unknown | typeof DELETED;

/**
 * A write transaction that buffers its writes and applies them only when the caller's
 * function returns. lmdb-js batches async transactions and does not roll back the writes of
 * a callback that throws, so an overlay is what makes "a failed transaction writes nothing"
 * true.
 */
export class BufferedWriteTx implements WriteTx {
  private readonly overlay = new Map<string, Map<Key, Pending>>();
  private readonly tableOf = new Map<string, Table<unknown>>();
  readonly events: Omit<ChangeEvent, 'seq'>[] = [];

  constructor(
    private readonly dbFor: (table: Table<unknown>) => Database,
    private readonly now: number,
  ) {}

  private layer(table: Table<unknown>): Map<Key, Pending> {
    let m = this.overlay.get(table.name);
    if (!m) {
      m = new Map();
      this.overlay.set(table.name, m);
      this.tableOf.set(table.name, table);
    }
    return m;
  }

  get<T>(table: Table<T>, key: Key): T | undefined {
    const m = this.overlay.get(table.name);
    if (m?.has(key)) {
      const v = m.get(key);
      return v === DELETED ? undefined : (v as T);
    }
    return this.dbFor(table).get(key) as T | undefined;
  }

  has(table: Table<unknown>, key: Key): boolean {
    return this.get(table, key) !== undefined;
  }

  entries<T>(table: Table<T>): Entry<T>[] {
    const base = new Map<Key, T>();
    for (const { key, value } of this.dbFor(table).getRange()) base.set(key as Key, value as T);
    const m = this.overlay.get(table.name);
    if (m) {
      for (const [k, v] of m) {
        if (v === DELETED) base.delete(k);
        else base.set(k, v as T);
      }
    }
    return [...base.entries()].sort((a, b) => compareKeys(a[0], b[0])).map(([key, value]) => ({ key, value }));
  }

  values<T>(table: Table<T>): T[] {
    return this.entries(table).map((e) => e.value);
  }

  count(table: Table<unknown>): number {
    return this.entries(table).length;
  }

  put<T>(table: Table<T>, key: Key, value: T): void {
    const before = this.get(table, key);
    this.layer(table as Table<unknown>).set(key, structuredClone(value));
    if (table.logged) {
      this.events.push({ table: table.name, op: 'put', key, before: before ?? null, after: value, ts: this.now });
    }
  }

  delete(table: Table<unknown>, key: Key): boolean {
    const before = this.get(table, key);
    if (before === undefined) return false;
    this.layer(table).set(key, DELETED);
    if (table.logged) {
      this.events.push({ table: table.name, op: 'delete', key, before, after: null, ts: this.now });
    }
    return true;
  }

  /** Names of the tables this transaction writes. */
  writtenTables(): Set<string> {
    return new Set(this.overlay.keys());
  }

  /** The transaction's row writes in table order, as a replica applies them. */
  rowWrites(): RowWrite[] {
    const out: RowWrite[] = [];
    for (const [name, m] of this.overlay) {
      for (const [k, v] of m) out.push(v === DELETED ? [name, k] : [name, k, v]);
    }
    return out;
  }

  /** Writes the overlay into LMDB; called inside the lmdb transaction callback. */
  apply(): void {
    for (const [name, m] of this.overlay) {
      const db = this.dbFor(this.tableOf.get(name)!);
      for (const [k, v] of m) {
        if (v === DELETED) void db.remove(k);
        else void db.put(k, v);
      }
    }
  }
}

export function compareKeys(a: Key, b: Key): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const sa = String(a);
  const sb = String(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}
