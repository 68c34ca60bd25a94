/**
 * Admission control for transfers: a bounded number of slots in total and per client address.
 *
 * A slot is taken when a read request is accepted (before the file is opened) and is
 * "unconfirmed" until the client acknowledges something. When a limit is reached, the oldest
 * unconfirmed slot (of that client for the per-client limit, of anyone for the total) is evicted
 * to make room: a flood of requests that are never acknowledged, spoofed or not, only ever
 * displaces its own kind, while a real client acknowledges within a millisecond and keeps its
 * slot. Only when every slot is confirmed is a new request turned away.
 */

export interface Slot<T> {
  readonly address: string;
  /** Identifies the requester (local address, client address and port) to spot retransmitted requests. */
  readonly key: string;
  confirmed: boolean;
  /** Set when evicted or released; whoever holds the slot must stop. */
  released: boolean;
  /** The transfer once it exists. */
  owner: T | undefined;
}

export interface SlotLimits {
  maxTransfers: number;
  maxTransfersPerClient: number;
}

export type Admission<T> =
  | { kind: 'admitted'; slot: Slot<T>; evicted: Slot<T>[] }
  | { kind: 'refused'; reason: 'client-limit' | 'busy' };

export class SlotTable<T> {
  private readonly all = new Set<Slot<T>>();
  /** Oldest first (Set iteration order is insertion order). */
  private readonly unconfirmed = new Set<Slot<T>>();
  private readonly byClient = new Map<string, Set<Slot<T>>>();
  private readonly byKey = new Map<string, Slot<T>>();

  constructor(private limits: SlotLimits) {}

  setLimits(limits: SlotLimits): void {
    this.limits = limits;
  }

  get size(): number {
    return this.all.size;
  }

  get unconfirmedCount(): number {
    return this.unconfirmed.size;
  }

  clientCount(address: string): number {
    return this.byClient.get(address)?.size ?? 0;
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  /** Takes a slot, evicting unconfirmed ones if a limit requires; the caller must stop the evicted. */
  admit(address: string, key: string): Admission<T> {
    const evicted: Slot<T>[] = [];
    const mine = this.byClient.get(address);
    if (mine && mine.size >= this.limits.maxTransfersPerClient) {
      const victim = first(mine, (s) => !s.confirmed);
      if (!victim) return { kind: 'refused', reason: 'client-limit' };
      this.release(victim);
      evicted.push(victim);
    }
    if (this.all.size >= this.limits.maxTransfers) {
      const victim = first(this.unconfirmed, () => true);
      if (!victim) return { kind: 'refused', reason: 'busy' };
      this.release(victim);
      evicted.push(victim);
    }
    const slot: Slot<T> = { address, key, confirmed: false, released: false, owner: undefined };
    this.all.add(slot);
    this.unconfirmed.add(slot);
    this.byKey.set(key, slot);
    let set = this.byClient.get(address);
    if (!set) {
      set = new Set();
      this.byClient.set(address, set);
    }
    set.add(slot);
    return { kind: 'admitted', slot, evicted };
  }

  confirm(slot: Slot<T>): void {
    if (slot.released) return;
    slot.confirmed = true;
    this.unconfirmed.delete(slot);
  }

  /** Frees the slot; idempotent. */
  release(slot: Slot<T>): void {
    if (slot.released) return;
    slot.released = true;
    this.all.delete(slot);
    this.unconfirmed.delete(slot);
    if (this.byKey.get(slot.key) === slot) this.byKey.delete(slot.key);
    const set = this.byClient.get(slot.address);
    if (set) {
      set.delete(slot);
      if (set.size === 0) this.byClient.delete(slot.address);
    }
  }

  /** Every slot, oldest first (for shutdown). */
  slots(): Slot<T>[] {
    return [...this.all];
  }
}

function first<S>(set: Set<S>, pred: (s: S) => boolean): S | undefined {
  for (const s of set) if (pred(s)) return s;
  return undefined;
}
