import { HEADER_BYTES, RRType } from './constants.js';
import { MAX_NAME_WIRE_BYTES, formatLabel } from './names.js';
import { type RData, type ResourceRecord, formatIpv6 } from './records.js';

export interface Question {
  name: string;
  type: number;
  class: number;
}

/** EDNS(0) as carried by the OPT pseudo-record (RFC 6891 §6.1.3). */
export interface EdnsInfo {
  udpSize: number;
  extRcode: number;
  version: number;
  flags: number;
  options: Buffer;
}

export interface TsigRecord {
  /** Key name, canonical. */
  keyName: string;
  algorithm: string;
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  error: number;
  otherData: Buffer;
  /** Offset of the TSIG RR in the message (the MAC covers the bytes before it). */
  offset: number;
}

export interface Message {
  id: number;
  flags: number;
  opcode: number;
  rcode: number;
  questions: Question[];
  answers: ResourceRecord[];
  authorities: ResourceRecord[];
  /** Additional records other than OPT and TSIG. */
  additionals: ResourceRecord[];
  edns: EdnsInfo | undefined;
  tsig: TsigRecord | undefined;
}

export type DecodeResult =
  | { ok: true; message: Message }
  /** `header` is set when at least the 12-byte header was readable (a FORMERR can be sent). */
  | { ok: false; error: string; header: { id: number; flags: number } | undefined };

class FormatError extends Error {}

/**
 * Decodes a whole message. Never throws: any malformation (lying counts, compression loops or
 * forward pointers, over-long names, reserved label types, RDATA overruns, misplaced or
 * duplicate OPT/TSIG, trailing bytes) comes back as `{ ok: false }`.
 */
export function decodeMessage(buf: Uint8Array): DecodeResult {
  if (buf.length < HEADER_BYTES) return { ok: false, error: 'shorter than a DNS header', header: undefined };
  const view = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  const id = view.readUInt16BE(0);
  const flags = view.readUInt16BE(2);
  try {
    return { ok: true, message: parseBody(view, id, flags) };
  } catch (e) {
    const error = e instanceof FormatError ? e.message : `decoder fault: ${(e as Error).message}`;
    return { ok: false, error, header: { id, flags } };
  }
}

function parseBody(b: Buffer, id: number, flags: number): Message {
  const qd = b.readUInt16BE(4);
  const an = b.readUInt16BE(6);
  const ns = b.readUInt16BE(8);
  const ar = b.readUInt16BE(10);
  // Each question takes at least 5 bytes and each record 11: reject lying counts before looping.
  if (HEADER_BYTES + qd * 5 + (an + ns + ar) * 11 > b.length)
    throw new FormatError('section counts exceed the message');
  let pos = HEADER_BYTES;
  const questions: Question[] = [];
  for (let i = 0; i < qd; i++) {
    const n = readName(b, pos);
    pos = n.end;
    need(b, pos, 4);
    questions.push({ name: n.name, type: b.readUInt16BE(pos), class: b.readUInt16BE(pos + 2) });
    pos += 4;
  }
  const answers: ResourceRecord[] = [];
  const authorities: ResourceRecord[] = [];
  const additionals: ResourceRecord[] = [];
  let edns: EdnsInfo | undefined;
  let tsig: TsigRecord | undefined;
  for (let i = 0; i < an + ns + ar; i++) {
    const start = pos;
    const n = readName(b, pos);
    pos = n.end;
    need(b, pos, 10);
    const type = b.readUInt16BE(pos);
    const klass = b.readUInt16BE(pos + 2);
    const ttl = b.readUInt32BE(pos + 4);
    const rdlen = b.readUInt16BE(pos + 8);
    pos += 10;
    need(b, pos, rdlen);
    const rdEnd = pos + rdlen;
    if (tsig) throw new FormatError('TSIG must be the last record (RFC 8945 §5.1)');
    const inAdditional = i >= an + ns;
    if (type === RRType.OPT) {
      // RFC 6891 §6.1.1: one OPT, owner root, in the additional section.
      if (!inAdditional || n.name !== '' || edns) throw new FormatError('misplaced or duplicate OPT record');
      edns = {
        udpSize: klass,
        extRcode: ttl >>> 24,
        version: (ttl >>> 16) & 0xff,
        flags: ttl & 0xffff,
        options: Buffer.from(b.subarray(pos, rdEnd)),
      };
      checkOptions(b, pos, rdEnd);
    } else if (type === RRType.TSIG) {
      if (!inAdditional || i !== an + ns + ar - 1)
        throw new FormatError('TSIG must be the last record (RFC 8945 §5.1)');
      tsig = readTsig(b, pos, rdEnd, n.name, start);
    } else {
      const rr: ResourceRecord = {
        name: n.name,
        type,
        class: klass,
        ttl,
        data: readRdata(b, type, pos, rdEnd),
      };
      if (i < an) answers.push(rr);
      else if (i < an + ns) authorities.push(rr);
      else additionals.push(rr);
    }
    pos = rdEnd;
  }
  if (pos !== b.length) throw new FormatError('trailing bytes after the last record');
  return {
    id,
    flags,
    opcode: (flags >> 11) & 0xf,
    rcode: flags & 0xf,
    questions,
    answers,
    authorities,
    additionals,
    edns,
    tsig,
  };
}

function need(b: Buffer, pos: number, n: number): void {
  if (pos + n > b.length) throw new FormatError('record runs past the end of the message');
}

/**
 * Reads a possibly compressed name. Pointers must point strictly backwards from the label
 * that holds them, which rules out loops (RFC 1035 §4.1.4 "a prior occurrence"); labels of
 * type 01/10 (RFC 6891 §5, obsolete) are refused; the expanded name is capped at 255 bytes.
 */
export function readName(b: Uint8Array, start: number): { name: string; end: number; wireLength: number } {
  const parts: string[] = [];
  let pos = start;
  let end = -1;
  let wire = 1;
  let limit = start; // a pointer must target bytes before this
  for (;;) {
    if (pos >= b.length) throw new FormatError('name runs past the end of the message');
    const len = b[pos]!;
    if (len === 0) {
      if (end < 0) end = pos + 1;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= b.length) throw new FormatError('truncated compression pointer');
      const target = ((len & 0x3f) << 8) | b[pos + 1]!;
      if (target >= limit) throw new FormatError('compression pointer does not point backwards');
      if (end < 0) end = pos + 2;
      limit = target;
      pos = target;
      continue;
    }
    if (kind !== 0) throw new FormatError('reserved label type');
    if (pos + 1 + len > b.length) throw new FormatError('label runs past the end of the message');
    wire += len + 1;
    if (wire > MAX_NAME_WIRE_BYTES) throw new FormatError('name longer than 255 bytes');
    parts.push(formatLabel(b, pos + 1, pos + 1 + len));
    pos += len + 1;
  }
  return { name: parts.join('.'), end, wireLength: wire };
}

function checkOptions(b: Buffer, pos: number, end: number): void {
  while (pos < end) {
    if (pos + 4 > end) throw new FormatError('truncated EDNS option');
    const len = b.readUInt16BE(pos + 2);
    pos += 4 + len;
    if (pos > end) throw new FormatError('EDNS option overruns the OPT record');
  }
}

function readTsig(b: Buffer, pos: number, end: number, keyName: string, offset: number): TsigRecord {
  const alg = readName(b, pos);
  // RFC 8945 §4.2: the algorithm name is never compressed; we accept either.
  let p = alg.end;
  if (p + 10 > end) throw new FormatError('truncated TSIG');
  const timeSigned = b.readUInt16BE(p) * 2 ** 32 + b.readUInt32BE(p + 2);
  const fudge = b.readUInt16BE(p + 6);
  const macLen = b.readUInt16BE(p + 8);
  p += 10;
  if (p + macLen + 6 > end) throw new FormatError('truncated TSIG MAC');
  const mac = Buffer.from(b.subarray(p, p + macLen));
  p += macLen;
  const originalId = b.readUInt16BE(p);
  const error = b.readUInt16BE(p + 2);
  const otherLen = b.readUInt16BE(p + 4);
  p += 6;
  if (p + otherLen !== end) throw new FormatError('TSIG other-data length mismatch');
  return {
    keyName: keyName.toLowerCase(),
    algorithm: alg.name.toLowerCase(),
    timeSigned,
    fudge,
    mac,
    originalId,
    error,
    otherData: Buffer.from(b.subarray(p, end)),
    offset,
  };
}

function readRdata(b: Buffer, type: number, pos: number, end: number): RData {
  const len = end - pos;
  const exact = (n: number) => {
    if (len !== n) throw new FormatError(`bad RDATA length for type ${type}`);
  };
  switch (type) {
    case RRType.A:
      exact(4);
      return { kind: 'a', address: `${b[pos]}.${b[pos + 1]}.${b[pos + 2]}.${b[pos + 3]}` };
    case RRType.AAAA:
      exact(16);
      return { kind: 'aaaa', address: formatIpv6(b.subarray(pos, end)) };
    case RRType.NS:
    case RRType.PTR:
    case RRType.CNAME: {
      const n = readName(b, pos);
      if (n.end !== end) throw new FormatError('name RDATA length mismatch');
      return { kind: 'name', target: n.name };
    }
    case RRType.SOA: {
      const m = readName(b, pos);
      const r = readName(b, m.end);
      if (r.end + 20 !== end) throw new FormatError('SOA RDATA length mismatch');
      const p = r.end;
      return {
        kind: 'soa',
        mname: m.name,
        rname: r.name,
        serial: b.readUInt32BE(p),
        refresh: b.readUInt32BE(p + 4),
        retry: b.readUInt32BE(p + 8),
        expire: b.readUInt32BE(p + 12),
        minimum: b.readUInt32BE(p + 16),
      };
    }
    case RRType.MX: {
      if (len < 3) throw new FormatError('short MX');
      const n = readName(b, pos + 2);
      if (n.end !== end) throw new FormatError('MX RDATA length mismatch');
      return { kind: 'mx', preference: b.readUInt16BE(pos), exchange: n.name };
    }
    case RRType.TXT: {
      const strings: Buffer[] = [];
      let p = pos;
      while (p < end) {
        const l = b[p]!;
        if (p + 1 + l > end) throw new FormatError('TXT string overruns RDATA');
        strings.push(Buffer.from(b.subarray(p + 1, p + 1 + l)));
        p += 1 + l;
      }
      return { kind: 'txt', strings };
    }
    default:
      return { kind: 'raw', bytes: Buffer.from(b.subarray(pos, end)) };
  }
}
