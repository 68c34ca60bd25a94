/**
 * Input generation for the fuzz harness: a seeded PRNG, random byte strings, and mutations of
 * golden inputs (bit flips, interesting values, truncation, extension, splices of two goldens,
 * chunk insertion/deletion/duplication). Deterministic for a given seed.
 */

/** mulberry32: small, fast, good enough to drive mutations reproducibly. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

/** Values that hit length checks and sign/overflow edges. */
const INTERESTING8 = [0, 1, 2, 3, 4, 7, 8, 0x0f, 0x10, 0x3f, 0x40, 0x7f, 0x80, 0xc0, 0xfe, 0xff];
const INTERESTING16 = [0, 1, 4, 8, 0x7f, 0x80, 0xff, 0x100, 0x3fff, 0x7fff, 0x8000, 0xc000, 0xfffe, 0xffff];

type Mutator = (b: Buffer, rng: Rng, goldens: readonly Buffer[]) => Buffer;

const MUTATORS: Mutator[] = [
  // flip 1–8 bits
  (b, rng) => {
    if (b.length === 0) return b;
    const out = Buffer.from(b);
    for (let k = 1 + rng.int(8); k > 0; k--) {
      const i = rng.int(out.length);
      out[i] = out[i]! ^ (1 << rng.int(8));
    }
    return out;
  },
  // random byte values
  (b, rng) => {
    if (b.length === 0) return b;
    const out = Buffer.from(b);
    for (let k = 1 + rng.int(4); k > 0; k--) out[rng.int(out.length)] = rng.int(256);
    return out;
  },
  // interesting 8-bit value
  (b, rng) => {
    if (b.length === 0) return b;
    const out = Buffer.from(b);
    out[rng.int(out.length)] = rng.pick(INTERESTING8);
    return out;
  },
  // interesting 16-bit value, either byte order (lengths and counts are 16-bit in most formats)
  (b, rng) => {
    if (b.length < 2) return b;
    const out = Buffer.from(b);
    const i = rng.int(out.length - 1);
    const v = rng.pick(INTERESTING16);
    if (rng.int(2)) out.writeUInt16BE(v, i);
    else out.writeUInt16LE(v, i);
    return out;
  },
  // truncate
  (b, rng) => b.subarray(0, rng.int(b.length + 1)),
  // extend with random bytes
  (b, rng) => Buffer.concat([b, rng.bytes(1 + rng.int(64))]),
  // splice: a prefix of this input and a suffix of another golden
  (b, rng, goldens) => {
    const other = rng.pick(goldens);
    return Buffer.concat([b.subarray(0, rng.int(b.length + 1)), other.subarray(rng.int(other.length + 1))]);
  },
  // delete a chunk
  (b, rng) => {
    if (b.length === 0) return b;
    const i = rng.int(b.length);
    const n = 1 + rng.int(Math.min(32, b.length - i));
    return Buffer.concat([b.subarray(0, i), b.subarray(i + n)]);
  },
  // duplicate a chunk in place (repeated TLVs, options, labels)
  (b, rng) => {
    if (b.length === 0) return b;
    const i = rng.int(b.length);
    const n = 1 + rng.int(Math.min(64, b.length - i));
    return Buffer.concat([b.subarray(0, i + n), b.subarray(i, i + n), b.subarray(i + n)]);
  },
  // insert random bytes
  (b, rng) => {
    const i = rng.int(b.length + 1);
    return Buffer.concat([b.subarray(0, i), rng.bytes(1 + rng.int(16)), b.subarray(i)]);
  },
];

/**
 * The n-th input: a fifth are random byte strings up to `maxRandom` bytes, the rest one golden
 * input with 1–4 stacked mutations (a few percent are goldens unchanged, so the happy path runs).
 */
export function nextInput(rng: Rng, goldens: readonly Buffer[], maxRandom: number): Buffer {
  const roll = rng.int(100);
  if (roll < 20 || goldens.length === 0) return rng.bytes(rng.int(maxRandom + 1));
  let b = rng.pick(goldens);
  if (roll < 23) return b;
  for (let k = 1 + rng.int(4); k > 0; k--) b = rng.pick(MUTATORS)(b, rng, goldens);
  return b;
}
