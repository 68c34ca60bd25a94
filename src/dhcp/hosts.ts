/**
 * Known machines by MAC, read from the MDB `machines` table and kept current from the store's
 * change feed, so an MDB change (a registration, a new address) applies to the next packet.
 */
import { MDB_TABLES, type Machine, machinesTable } from '../mdb/model.js';
import type { ChangeEvent, Store } from '../store/index.js';

export interface HostLookup {
  byMac(mac: string): Machine | undefined;
}

export class HostMap implements HostLookup {
  private map = new Map<string, Machine>();
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly store: Store | undefined) {}

  /** A map of `machines` that follows no store (the start-up warm-up, warmup.ts). */
  static fixed(machines: Iterable<Machine>): HostMap {
    const h = new HostMap(undefined);
    for (const m of machines) h.map.set(m.mac.toLowerCase(), m);
    return h;
  }

  start(): void {
    if (!this.store) return;
    // Subscribe first so no change committed between the read and the subscription is missed;
    // events for rows the snapshot already has are idempotent.
    this.unsubscribe = this.store.subscribe((events) => this.onChanges(events));
    const next = new Map<string, Machine>();
    const store = this.store;
    for (const m of store.read((tx) => tx.values(machinesTable(store)))) {
      if (m.mac) next.set(m.mac.toLowerCase(), m);
    }
    this.map = next;
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  byMac(mac: string): Machine | undefined {
    return this.map.get(mac);
  }

  get size(): number {
    return this.map.size;
  }

  /** The known machines (the warm-up picks one to shape its requests like a real machine's). */
  machines(): IterableIterator<Machine> {
    return this.map.values();
  }

  private onChanges(events: readonly ChangeEvent[]): void {
    for (const ev of events) {
      if (ev.table !== MDB_TABLES.machines) continue;
      const before = ev.before as Machine | null;
      const after = ev.after as Machine | null;
      if (before?.mac) {
        const key = before.mac.toLowerCase();
        if (this.map.get(key)?.hostname === before.hostname) this.map.delete(key);
      }
      if (after?.mac) this.map.set(after.mac.toLowerCase(), after);
    }
  }
}

/** A fixed lookup (tests, benches). */
export function staticHosts(machines: Iterable<Machine>): HostLookup {
  const map = new Map<string, Machine>();
  for (const m of machines) map.set(m.mac.toLowerCase(), m);
  return { byMac: (mac) => map.get(mac) };
}
