import { GatehouseError } from '../../errors.js';
import { NLA_F_NESTED, NLA_HDRLEN, NLA_TYPE_MASK } from './constants.js';

/**
 * Netlink attributes (TLV): a little-endian u16 length (header included), a u16 type whose top
 * bits flag nesting/byte order, the value, then padding to 4 bytes (the length excludes the
 * padding). Integer values of nf_tables, ctnetlink and nfnetlink_log attributes are big-endian
 * (network order), unlike the TLV header itself.
 */
export interface Attr {
  /** Type without the NLA_F_NESTED / NLA_F_NET_BYTEORDER bits. */
  type: number;
  nested: boolean;
  value: Buffer;
}

export class NetlinkDecodeError extends GatehouseError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('GH_NETLINK_MALFORMED', message, details);
    this.name = 'NetlinkDecodeError';
  }
}

export function align4(n: number): number {
  return (n + 3) & ~3;
}

/** One attribute with its padding. */
export function attr(type: number, value: Uint8Array): Buffer {
  const len = NLA_HDRLEN + value.length;
  if (len > 0xffff)
    throw new GatehouseError('GH_NETLINK', `netlink attribute ${type} is too large (${len} bytes)`);
  const out = Buffer.alloc(align4(len));
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type & NLA_TYPE_MASK, 2);
  out.set(value, NLA_HDRLEN);
  return out;
}

/** A nested attribute (NLA_F_NESTED set) holding already encoded attributes. */
export function nest(type: number, children: readonly Buffer[]): Buffer {
  const inner = Buffer.concat(children);
  const out = attr(type, inner);
  out.writeUInt16LE((type & NLA_TYPE_MASK) | NLA_F_NESTED, 2);
  return out;
}

export function u8(v: number): Buffer {
  return Buffer.from([v & 0xff]);
}

export function be16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v & 0xffff, 0);
  return b;
}

export function be32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0, 0);
  return b;
}

/** Signed big-endian 32-bit (verdict codes, hook priorities). */
export function be32s(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v | 0, 0);
  return b;
}

export function be64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(v, 0);
  return b;
}

/** NUL-terminated string, as NLA_STRING / NLA_NUL_STRING attributes expect. */
export function cstr(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, 'utf8'), Buffer.alloc(1)]);
}

export function attrU8(type: number, v: number): Buffer {
  return attr(type, u8(v));
}
export function attrBe16(type: number, v: number): Buffer {
  return attr(type, be16(v));
}
export function attrBe32(type: number, v: number): Buffer {
  return attr(type, be32(v));
}
export function attrBe32s(type: number, v: number): Buffer {
  return attr(type, be32s(v));
}
export function attrStr(type: number, s: string): Buffer {
  return attr(type, cstr(s));
}

/**
 * Decodes the attributes in `buf[start, end)`. Lying lengths (shorter than the header, longer
 * than what remains) throw NetlinkDecodeError; trailing bytes shorter than a header are ignored
 * like the kernel's nla_parse does.
 */
export function decodeAttrs(buf: Buffer, start = 0, end = buf.length): Attr[] {
  const out: Attr[] = [];
  let off = start;
  while (off + NLA_HDRLEN <= end) {
    const len = buf.readUInt16LE(off);
    const rawType = buf.readUInt16LE(off + 2);
    if (len < NLA_HDRLEN || off + len > end) {
      throw new NetlinkDecodeError(`attribute at offset ${off} claims ${len} bytes but ${end - off} remain`, {
        offset: off,
        len,
      });
    }
    out.push({
      type: rawType & NLA_TYPE_MASK,
      nested: (rawType & NLA_F_NESTED) !== 0,
      value: buf.subarray(off + NLA_HDRLEN, off + len),
    });
    off += align4(len);
  }
  return out;
}

/** Attributes indexed by type (the first one wins, as with nla_parse for unique attributes). */
export class AttrMap {
  private readonly byType = new Map<number, Attr>();
  constructor(readonly list: readonly Attr[]) {
    for (const a of list) if (!this.byType.has(a.type)) this.byType.set(a.type, a);
  }

  static parse(buf: Buffer, start = 0, end = buf.length): AttrMap {
    return new AttrMap(decodeAttrs(buf, start, end));
  }

  has(type: number): boolean {
    return this.byType.has(type);
  }

  raw(type: number): Buffer | undefined {
    return this.byType.get(type)?.value;
  }

  all(type: number): Attr[] {
    return this.list.filter((a) => a.type === type);
  }

  nested(type: number): AttrMap | undefined {
    const v = this.raw(type);
    return v === undefined ? undefined : AttrMap.parse(v);
  }

  u8(type: number): number | undefined {
    const v = this.raw(type);
    if (v === undefined) return undefined;
    need(v, 1, type);
    return v.readUInt8(0);
  }

  be16(type: number): number | undefined {
    const v = this.raw(type);
    if (v === undefined) return undefined;
    need(v, 2, type);
    return v.readUInt16BE(0);
  }

  be32(type: number): number | undefined {
    const v = this.raw(type);
    if (v === undefined) return undefined;
    need(v, 4, type);
    return v.readUInt32BE(0);
  }

  be32s(type: number): number | undefined {
    const v = this.raw(type);
    if (v === undefined) return undefined;
    need(v, 4, type);
    return v.readInt32BE(0);
  }

  be64(type: number): bigint | undefined {
    const v = this.raw(type);
    if (v === undefined) return undefined;
    need(v, 8, type);
    return v.readBigUInt64BE(0);
  }

  /** A string attribute; the NUL terminator and anything after it are dropped. */
  str(type: number): string | undefined {
    const v = this.raw(type);
    if (v === undefined) return undefined;
    const nul = v.indexOf(0);
    return v.subarray(0, nul === -1 ? v.length : nul).toString('utf8');
  }
}

function need(v: Buffer, n: number, type: number): void {
  if (v.length < n)
    throw new NetlinkDecodeError(`attribute ${type} has ${v.length} bytes, expected ${n}`, { type });
}
