import { RRType } from './constants.js';
import { formatLabel, lowerBytes, nameLabels } from './names.js';
import { type RData, type ResourceRecord, ipv6Bytes, writeIpv4 } from './records.js';

/**
 * Builds one DNS message with RFC 1035 §4.1.4 name compression: every name written (owners,
 * and the names inside NS/PTR/CNAME/SOA/MX RDATA, which RFC 3597 §4 allows) reuses the longest
 * suffix already in the message. dns-packet never compresses, which is why this exists.
 */
export class MessageWriter {
  private buf: Buffer;
  private pos = 0;
  /** Lowercase presentation suffix → offset where it was written (< 0x4000 to be pointable). */
  private readonly suffixes = new Map<string, number>();
  private counts = [0, 0, 0, 0];

  constructor(initial = 512) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  get length(): number {
    return this.pos;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
  }
  u16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v & 0xffff, this.pos);
    this.pos += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Header with zero counts; counts are filled as sections are written. */
  header(id: number, flags: number): void {
    this.pos = 0;
    this.suffixes.clear();
    this.counts = [0, 0, 0, 0];
    this.u16(id);
    this.u16(flags);
    this.u32(0);
    this.u32(0);
  }

  /**
   * Writes a name, compressed unless `compress` is false. When `wire` (the name's exact
   * uncompressed bytes, e.g. a query's question) is given it is copied verbatim so the
   * client's letter case survives (RFC 4343 §4.1; 0x20 randomisation depends on it).
   */
  name(name: string, compress = true, wire?: Uint8Array): void {
    if (wire || name.includes('\\')) {
      this.nameGeneral(name, compress, wire);
      return;
    }
    // Plain names (no escapes): suffix keys are slices of the lowercased string, labels are
    // written straight from its characters. This is the zone-compilation hot path.
    const lower = hasUpper(name) ? asciiLower(name) : name;
    let i = 0;
    while (i < name.length) {
      const suffix = i === 0 ? lower : lower.slice(i);
      const at = compress ? this.suffixes.get(suffix) : undefined;
      if (at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
      if (this.pos < 0x4000 && !this.suffixes.has(suffix)) this.suffixes.set(suffix, this.pos);
      let dot = name.indexOf('.', i);
      if (dot < 0) dot = name.length;
      const len = dot - i;
      if (len === 0 || len > 63) throw new RangeError(`bad label in "${name}"`);
      this.ensure(len + 1);
      this.buf[this.pos++] = len;
      for (let k = i; k < dot; k++) this.buf[this.pos++] = name.charCodeAt(k) & 0xff;
      i = dot + 1;
    }
    this.u8(0);
  }

  private nameGeneral(name: string, compress: boolean, wire?: Uint8Array): void {
    const labels = wire ? wireLabels(wire) : nameLabels(name);
    const keys: string[] = [];
    let key = '';
    for (let i = labels.length - 1; i >= 0; i--) {
      const l = formatLabel(lowerBytes(Buffer.from(labels[i]!)));
      key = key === '' ? l : `${l}.${key}`;
      keys.unshift(key);
    }
    for (let i = 0; i < labels.length; i++) {
      const at = compress ? this.suffixes.get(keys[i]!) : undefined;
      if (at !== undefined) {
        this.u16(0xc000 | at);
        return;
      }
      if (this.pos < 0x4000 && !this.suffixes.has(keys[i]!)) this.suffixes.set(keys[i]!, this.pos);
      const l = labels[i]!;
      this.u8(l.length);
      this.bytes(l);
    }
    this.u8(0);
  }

  question(name: string, type: number, klass: number, wire?: Uint8Array): void {
    this.name(name, true, wire);
    this.u16(type);
    this.u16(klass);
    this.bump(0);
  }

  /** Appends a record to section 1 (answer), 2 (authority) or 3 (additional). */
  record(section: 1 | 2 | 3, rr: ResourceRecord): void {
    this.name(rr.name);
    this.u16(rr.type);
    this.u16(rr.class);
    this.u32(rr.ttl);
    const lenAt = this.pos;
    this.u16(0);
    this.rdata(rr.type, rr.data);
    this.buf.writeUInt16BE(this.pos - lenAt - 2, lenAt);
    this.bump(section);
  }

  /** EDNS(0) OPT pseudo-record (RFC 6891 §6.1.2). */
  opt(udpSize: number, extRcode = 0, version = 0, flags = 0, options?: Uint8Array): void {
    this.u8(0);
    this.u16(RRType.OPT);
    this.u16(udpSize);
    this.u8(extRcode);
    this.u8(version);
    this.u16(flags);
    this.u16(options?.length ?? 0);
    if (options) this.bytes(options);
    this.bump(3);
  }

  /** Raw bytes of an already encoded record (e.g. TSIG) counted in `section`. */
  rawRecord(section: 1 | 2 | 3, bytes: Uint8Array): void {
    this.bytes(bytes);
    this.bump(section);
  }

  private bump(section: number): void {
    this.counts[section]!++;
    this.buf.writeUInt16BE(this.counts[section]!, 4 + section * 2);
  }

  private rdata(type: number, d: RData): void {
    switch (d.kind) {
      case 'a':
        this.ensure(4);
        if (!writeIpv4(d.address, this.buf, this.pos)) this.buf.fill(0, this.pos, this.pos + 4);
        this.pos += 4;
        return;
      case 'aaaa':
        this.bytes(ipv6Bytes(d.address) ?? Buffer.alloc(16));
        return;
      case 'name':
        this.name(d.target, type === RRType.NS || type === RRType.PTR || type === RRType.CNAME);
        return;
      case 'soa':
        this.name(d.mname);
        this.name(d.rname);
        this.u32(d.serial);
        this.u32(d.refresh);
        this.u32(d.retry);
        this.u32(d.expire);
        this.u32(d.minimum);
        return;
      case 'mx':
        this.u16(d.preference);
        this.name(d.exchange);
        return;
      case 'srv':
        // RFC 2782: the SRV target is never compressed.
        this.u16(d.priority);
        this.u16(d.weight);
        this.u16(d.port);
        this.name(d.target, false);
        return;
      case 'txt':
        for (const s of d.strings) {
          this.u8(s.length);
          this.bytes(s);
        }
        return;
      case 'raw':
        this.bytes(d.bytes);
        return;
    }
  }

  /** Section counts so far: [qd, an, ns, ar]. */
  get sectionCounts(): readonly number[] {
    return this.counts;
  }

  /** Rewinds to `length` (drops records written after it) and restores the counts given. */
  truncateTo(length: number, counts: readonly number[]): void {
    this.pos = length;
    for (const [k, off] of this.suffixes) if (off >= length) this.suffixes.delete(k);
    this.counts = [...counts];
    for (let s = 0; s < 4; s++) this.buf.writeUInt16BE(this.counts[s]!, 4 + s * 2);
  }

  setFlags(flags: number): void {
    this.buf.writeUInt16BE(flags, 2);
  }

  /** A copy of the message bytes. */
  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}

/** Labels of an uncompressed wire name. */
function wireLabels(wire: Uint8Array): Buffer[] {
  const out: Buffer[] = [];
  let i = 0;
  while (i < wire.length && wire[i] !== 0) {
    const len = wire[i]!;
    out.push(Buffer.from(wire.subarray(i + 1, i + 1 + len)));
    i += len + 1;
  }
  return out;
}

function hasUpper(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) return true;
  }
  return false;
}

function asciiLower(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c >= 65 && c <= 90 ? String.fromCharCode(c + 32) : s[i];
  }
  return out;
}
