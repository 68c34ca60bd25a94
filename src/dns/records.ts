import { isIPv6 } from 'node:net';
import { RRType } from './constants.js';

/** Typed RDATA of the record types Gatehouse publishes or parses; anything else stays opaque. */
export type RData =
  | { kind: 'a'; address: string }
  | { kind: 'aaaa'; address: string }
  /** NS, PTR, CNAME. */
  | { kind: 'name'; target: string }
  | {
      kind: 'soa';
      mname: string;
      rname: string;
      serial: number;
      refresh: number;
      retry: number;
      expire: number;
      minimum: number;
    }
  | { kind: 'mx'; preference: number; exchange: string }
  | { kind: 'srv'; priority: number; weight: number; port: number; target: string }
  /** Character-strings, each at most 255 bytes. */
  | { kind: 'txt'; strings: Buffer[] }
  | { kind: 'raw'; bytes: Buffer };

export interface ResourceRecord {
  /** Presentation name, no trailing dot; canonical (lowercase) for zone data. */
  name: string;
  type: number;
  class: number;
  ttl: number;
  data: RData;
}

export interface SoaFields {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

export function soaRecord(zone: string, ttl: number, soa: SoaFields): ResourceRecord {
  return { name: zone, type: RRType.SOA, class: 1, ttl, data: { kind: 'soa', ...soa } };
}

/** IPv4 text → 4 bytes; undefined when not a dotted quad. */
export function ipv4Bytes(address: string): Buffer | undefined {
  const out = Buffer.allocUnsafe(4);
  return writeIpv4(address, out, 0) ? out : undefined;
}

/** Writes a dotted quad at `at`; false when malformed. No allocation (zone compilation path). */
export function writeIpv4(address: string, out: Uint8Array, at: number): boolean {
  let octet = 0;
  let digits = 0;
  let part = 0;
  for (let i = 0; i <= address.length; i++) {
    const c = i < address.length ? address.charCodeAt(i) : 46;
    if (c === 46) {
      if (digits === 0 || octet > 255 || part > 3) return false;
      out[at + part++] = octet;
      octet = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      octet = octet * 10 + (c - 48);
      digits++;
    } else return false;
  }
  return part === 4;
}

/** IPv6 text → 16 bytes (handles `::` and an embedded dotted quad). */
export function ipv6Bytes(address: string): Buffer | undefined {
  if (!isIPv6(address)) return undefined;
  let text = address;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const b = ipv4Bytes(v4[1]!)!;
    text =
      text.slice(0, -v4[1]!.length) +
      `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  for (let i = 0; i < groups.length; i++) out.writeUInt16BE(Number.parseInt(groups[i]!, 16), i * 2);
  return out;
}

export function formatIpv6(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  // RFC 5952: compress the longest run (≥ 2) of zero groups.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** A stable text form of a record (master-file style, absolute names), used for hashing and diffs. */
export function recordKey(rr: ResourceRecord): string {
  return `${rr.name}. ${rr.ttl} ${rr.class} ${rr.type} ${rdataText(rr.data)}`;
}

export function rdataText(d: RData): string {
  switch (d.kind) {
    case 'a':
    case 'aaaa':
      return d.address;
    case 'name':
      return `${d.target}.`;
    case 'soa':
      return `${d.mname}. ${d.rname}. ${d.serial} ${d.refresh} ${d.retry} ${d.expire} ${d.minimum}`;
    case 'mx':
      return `${d.preference} ${d.exchange}.`;
    case 'srv':
      return `${d.priority} ${d.weight} ${d.port} ${d.target}.`;
    case 'txt':
      return d.strings.map(quoteCharString).join(' ');
    case 'raw':
      return `\\# ${d.bytes.length}${d.bytes.length ? ' ' + d.bytes.toString('hex') : ''}`;
  }
}

/** RFC 1035 §5.1 <character-string> in quotes with escapes. */
export function quoteCharString(b: Buffer): string {
  let s = '"';
  for (const c of b) {
    if (c === 0x22 || c === 0x5c) s += '\\' + String.fromCharCode(c);
    else if (c < 0x20 || c >= 0x7f) s += '\\' + c.toString().padStart(3, '0');
    else s += String.fromCharCode(c);
  }
  return s + '"';
}
