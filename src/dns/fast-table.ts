/**
 * The answer cache of the hot path: an open-addressing table from (lowercase question name,
 * QTYPE) to a ready response, probed with a hash computed while the query's name is scanned.
 * Responses are copied into one contiguous arena and slots are plain integers, so a hit touches
 * a slot and the bytes it copies — no string is built, no Map or object is walked — which is
 * what keeps a lookup cheap after the kernel and libuv have evicted the CPU caches between two
 * datagrams (measured: a Map lookup by string costs several times more there). Each stored
 * response holds its own key (the lowercase question at offset 12), so a hit is confirmed by
 * comparing bytes. Filled on first use; one table per view per snapshot, bounded.
 */
export const FNV_OFFSET = 0x811c9dc5 | 0;

/** FNV-1a step; names are hashed byte by byte (lowercased), then a zero, then the QTYPE bytes. */
export function fnv(h: number, byte: number): number {
  return Math.imul(h ^ byte, 16777619);
}

const PROBES = 8;

export class FastTable {
  /** Per slot: hash, arena offset + 1 (0 = empty), length. */
  private readonly slots: Int32Array;
  private readonly mask: number;
  private arena: Uint8Array;
  private used = 0;
  private count = 0;

  constructor(
    readonly capacity = 16384,
    private readonly maxArenaBytes = 8 << 20,
  ) {
    let size = 1;
    while (size < capacity * 2) size <<= 1;
    this.mask = size - 1;
    this.slots = new Int32Array(size * 3);
    this.arena = new Uint8Array(Math.min(64 * 1024, maxArenaBytes));
  }

  get size(): number {
    return this.count;
  }

  /** The arena holding the bytes `find` points into (read it right after `find`). */
  get bytes(): Uint8Array {
    return this.arena;
  }

  /**
   * Slot index of the response to the query whose name is q[12..nameEnd) (any case) and QTYPE
   * `qtype`, or -1. `hash` is the FNV of the lowercase name, a zero byte and the two QTYPE bytes.
   */
  find(hash: number, q: Uint8Array, nameEnd: number, qtype: number): number {
    let i = hash & this.mask;
    for (let p = 0; p < PROBES; p++) {
      const s = i * 3;
      const off = this.slots[s + 1]! - 1;
      if (off < 0) return -1;
      if (this.slots[s] === hash && this.matches(off, this.slots[s + 2]!, q, nameEnd, qtype)) return s;
      i = (i + 1) & this.mask;
    }
    return -1;
  }

  offsetOf(slot: number): number {
    return this.slots[slot + 1]! - 1;
  }

  lengthOf(slot: number): number {
    return this.slots[slot + 2]!;
  }

  /** Stores a response (question = lowercase name + `qtype`); ignored when full. */
  add(hash: number, response: Uint8Array): void {
    if (this.count >= this.capacity) return;
    if (this.used + response.length > this.arena.length) {
      if (this.used + response.length > this.maxArenaBytes) return;
      let size = this.arena.length * 2;
      while (size < this.used + response.length) size *= 2;
      const next = new Uint8Array(Math.min(size, this.maxArenaBytes));
      next.set(this.arena.subarray(0, this.used));
      this.arena = next;
    }
    let i = hash & this.mask;
    for (let p = 0; p < PROBES; p++) {
      const s = i * 3;
      if (this.slots[s + 1] === 0) {
        this.arena.set(response, this.used);
        this.slots[s] = hash;
        this.slots[s + 1] = this.used + 1;
        this.slots[s + 2] = response.length;
        this.used += response.length;
        this.count++;
        return;
      }
      i = (i + 1) & this.mask;
    }
  }

  private matches(off: number, len: number, q: Uint8Array, nameEnd: number, qtype: number): boolean {
    if (len < nameEnd + 4) return false;
    const a = this.arena;
    for (let i = 12; i < nameEnd; i++) {
      let c = q[i]!;
      if (c >= 65 && c <= 90) c += 32;
      if (a[off + i] !== c) return false;
    }
    return a[off + nameEnd] === qtype >> 8 && a[off + nameEnd + 1] === (qtype & 0xff);
  }
}
