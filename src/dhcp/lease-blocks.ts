/**
 * Lease rows grouped by /24: one store row per 256 addresses (key `a.b.c.0/24`), its value the
 * leases of that block in a compact binary form. Bytes <-> records, no I/O.
 *
 * Why: one store row per lease cost ~10 µs of CPU per lease in the store's write path (a read of
 * the previous value, a structured clone, msgpack, LMDB's write queue), the largest single item of
 * the server's CPU per exchange. The pool hands out addresses in order, so the leases committed
 * together mostly share a block: the writer keeps each lease's encoded entry and writes each
 * changed block once per commit (a memcpy of its entries).
 *
 * Block value: version byte 1, then per lease: offset in the block (u8), state (u8: 1 bound,
 * 2 released, 3 declined), MAC (u8 length + latin1), starts, expires, updatedAt (f64 BE, Unix
 * ms), client id and hostname (u16 BE length + latin1, 0xffff = null).
 */
import { type Ip, formatIp, parseIp } from './ipv4.js';
import type { LeaseRecord, LeaseState } from './leases.js';

export const BLOCK_VERSION = 1;
const NULL_LENGTH = 0xffff;
const STATES: readonly LeaseState[] = ['bound', 'released', 'declined'];
const STATE_CODE: Record<LeaseState, number> = { bound: 1, released: 2, declined: 3 };

/** The first address of the block holding `addr`. */
export function blockBase(addr: Ip): Ip {
  return (addr & 0xffffff00) >>> 0;
}

export function blockKey(base: Ip): string {
  return `${formatIp(base)}/24`;
}

/** The base address of a block key, or undefined for any other key (a per-lease row). */
export function parseBlockKey(key: string): Ip | undefined {
  if (!key.endsWith('/24')) return undefined;
  const base = parseIp(key.slice(0, -3));
  return base !== undefined && (base & 0xff) === 0 ? base : undefined;
}

function latin1Length(s: string | null): number {
  return s === null ? 0 : s.length;
}

function writeLatin1(buf: Buffer, off: number, s: string): number {
  for (let i = 0; i < s.length; i++) buf[off + i] = s.charCodeAt(i) & 0xff;
  return off + s.length;
}

function writeOptional(buf: Buffer, off: number, s: string | null): number {
  if (s === null) {
    buf.writeUInt16BE(NULL_LENGTH, off);
    return off + 2;
  }
  buf.writeUInt16BE(s.length, off);
  return writeLatin1(buf, off + 2, s);
}

/**
 * One lease's entry. Strings are written as latin1: MACs and client ids are hex, and hostnames
 * come from the client as latin1 (options.ts), so they read back unchanged; longer values than a
 * field holds (255-byte MAC, 65534-byte strings) cannot come from a DHCP option.
 */
export function encodeEntry(addr: Ip, r: LeaseRecord): Uint8Array {
  const mac = r.mac.length > 255 ? r.mac.slice(0, 255) : r.mac;
  const clientId = r.clientId !== null && r.clientId.length >= NULL_LENGTH ? null : r.clientId;
  const hostname = r.hostname !== null && r.hostname.length >= NULL_LENGTH ? null : r.hostname;
  const size = 3 + mac.length + 24 + 2 + latin1Length(clientId) + 2 + latin1Length(hostname);
  const buf = size <= scratch.length ? scratch : Buffer.allocUnsafe(size);
  buf[0] = addr & 0xff;
  buf[1] = STATE_CODE[r.state];
  buf[2] = mac.length;
  let off = writeLatin1(buf, 3, mac);
  buf.writeDoubleBE(r.starts, off);
  buf.writeDoubleBE(r.expires, off + 8);
  buf.writeDoubleBE(r.updatedAt, off + 16);
  off = writeOptional(buf, off + 24, clientId);
  writeOptional(buf, off, hostname);
  // A copy of its own: the writer keeps one entry per lease for as long as the lease exists, and
  // a slice of Node's shared 8 KiB buffer pool would pin the whole slab with it.
  return Uint8Array.prototype.slice.call(buf, 0, size) as Uint8Array;
}

/** Where entries are assembled (one lease at a time, synchronously). */
const scratch = Buffer.allocUnsafeSlow(1024);

/** The block value holding `entries` (encoded entries, any order, undefined skipped). */
export function encodeBlock(entries: ReadonlyArray<Uint8Array | undefined>): Uint8Array {
  let size = 1;
  for (const e of entries) if (e) size += e.length;
  const out = new Uint8Array(size);
  out[0] = BLOCK_VERSION;
  let off = 1;
  for (const e of entries) {
    if (!e) continue;
    out.set(e, off);
    off += e.length;
  }
  return out;
}

export interface DecodedBlock {
  records: LeaseRecord[];
  /** Set when the value could not be read to its end (the records before are returned). */
  error?: string;
}

/** Reads a block value. Never throws: a damaged tail is reported, what precedes it is kept. */
export function decodeBlock(base: Ip, value: Uint8Array): DecodedBlock {
  const records: LeaseRecord[] = [];
  if (value.length === 0 || value[0] !== BLOCK_VERSION)
    return { records, error: `unknown block format ${value[0] ?? 'empty'}` };
  const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const latin1 = (start: number, len: number) => buf.toString('latin1', start, start + len);
  let off = 1;
  while (off < buf.length) {
    if (off + 3 > buf.length) return { records, error: `truncated entry at byte ${off}` };
    const offset = buf[off]!;
    const state = STATES[buf[off + 1]! - 1];
    const macLen = buf[off + 2]!;
    let p = off + 3 + macLen;
    if (!state || p + 28 > buf.length) return { records, error: `bad entry at byte ${off}` };
    const mac = latin1(off + 3, macLen);
    const starts = buf.readDoubleBE(p);
    const expires = buf.readDoubleBE(p + 8);
    const updatedAt = buf.readDoubleBE(p + 16);
    p += 24;
    const strings: Array<string | null> = [];
    for (let k = 0; k < 2; k++) {
      if (p + 2 > buf.length) return { records, error: `truncated entry at byte ${off}` };
      const len = buf.readUInt16BE(p);
      p += 2;
      if (len === NULL_LENGTH) {
        strings.push(null);
        continue;
      }
      if (p + len > buf.length) return { records, error: `truncated entry at byte ${off}` };
      strings.push(latin1(p, len));
      p += len;
    }
    records.push({
      ip: formatIp(base + offset),
      mac,
      clientId: strings[0]!,
      hostname: strings[1]!,
      state,
      starts,
      expires,
      updatedAt,
    });
    off = p;
  }
  return { records };
}
