import type { Database } from 'lmdb';
import type { Store } from '../store/index.js';
import type { JournalEntry, Position } from './wire.js';

const ORIGIN: Position = { r: 0, t: 0, n: '' };

export function samePosition(a: Position, b: Position): boolean {
  return a.r === b.r && a.t === b.t && a.n === b.n;
}

/**
 * The replication journal: every replicated transaction, numbered `r` (dense, one per
 * transaction, identical on both gateways), stamped with the term and node that wrote it.
 * A standby appends what it applies, so after a takeover the other gateway can resume from
 * it. `(r, t, n)` identifies an entry: two gateways agree on their history up to `r` when
 * their entries at `r` match (they were written once, by one node in one term).
 */
export class Journal {
  private readonly db: Database;
  private readonly state: Database;
  private last: Position;

  constructor(store: Store) {
    this.db = store.internalDb('_ha_journal', { uintKeys: true });
    this.state = store.internalDb('_ha_state');
    this.last = this.readLast();
  }

  private readLast(): Position {
    for (const { value } of this.db.getRange({ reverse: true, limit: 1 }))
      return positionOf(value as JournalEntry);
    return this.base();
  }

  /** The position just before the oldest kept entry (after a snapshot or compaction). */
  private base(): Position {
    return (this.state.get('base') as Position | undefined) ?? ORIGIN;
  }

  position(): Position {
    return this.last;
  }

  /** Re-reads the position from disk (after a failed transaction). */
  reload(): void {
    this.last = this.readLast();
  }

  /** Inside a store transaction. */
  append(entry: JournalEntry): void {
    void this.db.put(entry.r, entry);
    this.last = positionOf(entry);
  }

  /** The kept entry at `r` (or the base), as a position; undefined when not held. */
  positionAt(r: number): Position | undefined {
    const base = this.base();
    if (r === base.r) return base;
    const e = this.db.get(r) as JournalEntry | undefined;
    return e ? positionOf(e) : undefined;
  }

  /** Whether a replica at `p` shares this history and can resume from it. */
  canResume(p: Position): boolean {
    if (p.r === 0 || p.r > this.last.r) return false;
    const mine = this.positionAt(p.r);
    return mine !== undefined && samePosition(mine, p);
  }

  entriesAfter(r: number, limit = 1000): JournalEntry[] {
    const out: JournalEntry[] = [];
    for (const { value } of this.db.getRange({ start: r + 1, limit })) out.push(value as JournalEntry);
    return out;
  }

  /** Inside a store transaction: forget the entries, the history now starts at `pos` (a snapshot). */
  resetTo(pos: Position): void {
    for (const { key } of this.db.getRange()) void this.db.remove(key);
    void this.state.put('base', pos);
    this.last = pos;
  }

  /** Keeps the newest `max` entries. */
  async compact(max: number): Promise<void> {
    const cutoff = this.last.r - max;
    if (cutoff <= this.base().r) return;
    await this.db.transaction(() => {
      let newBase: Position | undefined;
      for (const { key, value } of this.db.getRange({ end: cutoff + 1 })) {
        newBase = positionOf(value as JournalEntry);
        void this.db.remove(key);
      }
      if (newBase) void this.state.put('base', newBase);
    });
  }

  /** The highest term this gateway has written in or seen. */
  get term(): number {
    return (this.state.get('term') as number | undefined) ?? 0;
  }

  async setTerm(term: number): Promise<void> {
    if (term > this.term) await this.state.put('term', term);
  }

  /** Inside a store transaction. */
  putTermInTx(term: number): void {
    if (term > this.term) void this.state.put('term', term);
  }
}

function positionOf(e: Position): Position {
  return { r: e.r, t: e.t, n: e.n };
}
