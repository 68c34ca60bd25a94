import { compareKeys } from '../store/write-tx.js';
import type { Entry, Key, ReadTx, Table, WriteTx } from '../store/index.js';

/**
 * A WriteTx that keeps its writes in memory on top of a ReadTx and never commits: bulk
 * imports run every record through it first, so a bad line is reported before anything is
 * written (no partial import), then write for real in batches.
 */
export class DryRunTx implements WriteTx {
  private readonly overlay = new Map<string, Map<Key, unknown>>();
  private static readonly DELETED = Symbol('deleted');

  constructor(private readonly base: ReadTx) {}

  private layer(t: Table<unknown>): Map<Key, unknown> {
    let m = this.overlay.get(t.name);
    if (!m) {
      m = new Map();
      this.overlay.set(t.name, m);
    }
    return m;
  }

  get<T>(t: Table<T>, key: Key): T | undefined {
    const m = this.overlay.get(t.name);
    if (m?.has(key)) {
      const v = m.get(key);
      return v === DryRunTx.DELETED ? undefined : (v as T);
    }
    return this.base.get(t, key);
  }
  has(t: Table<unknown>, key: Key): boolean {
    return this.get(t, key) !== undefined;
  }
  entries<T>(t: Table<T>): Entry<T>[] {
    const merged = new Map<Key, T>(this.base.entries(t).map((e) => [e.key, e.value]));
    for (const [k, v] of this.overlay.get(t.name) ?? []) {
      if (v === DryRunTx.DELETED) merged.delete(k);
      else merged.set(k, v as T);
    }
    return [...merged].sort((a, b) => compareKeys(a[0], b[0])).map(([key, value]) => ({ key, value }));
  }
  values<T>(t: Table<T>): T[] {
    return this.entries(t).map((e) => e.value);
  }
  count(t: Table<unknown>): number {
    return this.entries(t).length;
  }
  put<T>(t: Table<T>, key: Key, value: T): void {
    this.layer(t as Table<unknown>).set(key, value);
  }
  delete(t: Table<unknown>, key: Key): boolean {
    const existed = this.has(t, key);
    this.layer(t).set(key, DryRunTx.DELETED);
    return existed;
  }
}
