/**
 * DHCPv4 / BOOTP messages (RFC 951, RFC 2131 §2, RFC 2132): bytes <-> typed values. No I/O, no
 * clock. `decodePacket` never throws: garbage comes back as a typed `DecodeError` so the server
 * can count it by reason and drop it.
 *
 * Options are kept as a map code -> bytes. Repeated instances of one code are concatenated in
 * order (RFC 3396 §7), and with option overload (RFC 2131 §4.1, RFC 2132 §9.3) the `file` and
 * then the `sname` fields are read as further option space, in that order.
 */
import { type Ip, readIp, writeIp } from './ipv4.js';

export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;
export const MAGIC_COOKIE = 0x63825363;
/** Fixed BOOTP header, up to and excluding the magic cookie. */
export const HEADER_SIZE = 236;
/** RFC 1542 §3.4: BOOTP relay agents and old clients drop replies shorter than a BOOTP message. */
export const MIN_REPLY_SIZE = 300;
/** RFC 2131 §2: every client accepts at least 312 bytes of options, i.e. a 548-byte message. */
export const DEFAULT_MAX_MESSAGE = 548;
/** RFC 2131 §2: the broadcast bit of `flags`. */
export const FLAG_BROADCAST = 0x8000;

export const OPT = {
  PAD: 0,
  SUBNET_MASK: 1,
  ROUTER: 3,
  DNS: 6,
  HOSTNAME: 12,
  DOMAIN_NAME: 15,
  VENDOR_SPECIFIC: 43,
  REQUESTED_IP: 50,
  LEASE_TIME: 51,
  OVERLOAD: 52,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAM_REQUEST_LIST: 55,
  MESSAGE: 56,
  MAX_MESSAGE_SIZE: 57,
  RENEWAL_TIME: 58,
  REBINDING_TIME: 59,
  VENDOR_CLASS: 60,
  CLIENT_ID: 61,
  TFTP_SERVER_NAME: 66,
  BOOTFILE_NAME: 67,
  USER_CLASS: 77,
  /** Top-level 81 is the client FQDN (RFC 4702); inside 175 code 81 is iPXE's `scriptlet`. */
  CLIENT_FQDN: 81,
  RELAY_AGENT_INFO: 82,
  CLIENT_ARCH: 93,
  CLIENT_NDI: 94,
  CLIENT_UUID: 97,
  IPXE_ENCAP: 175,
  END: 255,
} as const;

export const MESSAGE_TYPES = [
  '',
  'DISCOVER',
  'OFFER',
  'REQUEST',
  'DECLINE',
  'ACK',
  'NAK',
  'RELEASE',
  'INFORM',
] as const;
export type MessageType = Exclude<(typeof MESSAGE_TYPES)[number], ''>;
export const MSG: Record<MessageType, number> = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
};

/** Options by code, each the concatenation of every instance of that code, in first-seen order. */
export type OptionMap = Map<number, Uint8Array>;

/** The fixed BOOTP header fields (RFC 951 / RFC 2131 §2) shared by decoded and encoded messages. */
export interface BootpHeader {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: Ip;
  yiaddr: Ip;
  siaddr: Ip;
  giaddr: Ip;
}

export interface DhcpPacket extends BootpHeader {
  /** The 16-byte chaddr field verbatim (only the first `hlen` bytes are the address). */
  chaddr: Uint8Array;
  /** Server host name field, up to its first NUL; empty when overloaded with options. */
  sname: string;
  /** Boot file field, up to its first NUL; empty when overloaded with options. */
  file: string;
  /** false for a plain BOOTP message (no magic cookie, no options). */
  dhcp: boolean;
  options: OptionMap;
}

export type DecodeErrorReason =
  | 'too-short'
  | 'bad-op'
  | 'bad-hlen'
  | 'option-overrun'
  | 'bad-overload'
  | 'bad-option';

export interface DecodeError {
  ok: false;
  reason: DecodeErrorReason;
  detail: string;
}
export type DecodeResult = { ok: true; packet: DhcpPacket } | DecodeError;

function fail(reason: DecodeErrorReason, detail: string): DecodeError {
  return { ok: false, reason, detail };
}

/** Reads option TLVs from `buf[start, end)` into `into`. Returns an error text or undefined. */
function readOptionArea(buf: Uint8Array, start: number, end: number, into: OptionMap): string | undefined {
  let i = start;
  while (i < end) {
    const code = buf[i]!;
    if (code === OPT.PAD) {
      i++;
      continue;
    }
    if (code === OPT.END) return undefined;
    if (i + 1 >= end) return `option ${code} has no length byte`;
    const len = buf[i + 1]!;
    if (i + 2 + len > end) return `option ${code} claims ${len} bytes, only ${end - i - 2} left`;
    const data = buf.subarray(i + 2, i + 2 + len);
    const prev = into.get(code);
    if (prev) {
      const joined = new Uint8Array(prev.length + len);
      joined.set(prev);
      joined.set(data, prev.length);
      into.set(code, joined);
    } else {
      into.set(code, data);
    }
    i += 2 + len;
  }
  // A missing END option is tolerated: several embedded clients stop at the last option.
  return undefined;
}

function cString(buf: Uint8Array, start: number, len: number): string {
  // Nearly every client leaves sname and file empty: no Buffer view, no decoding for those.
  if (buf[start] === 0) return '';
  let end = start;
  const max = start + len;
  while (end < max && buf[end] !== 0) end++;
  return Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('latin1');
}

/**
 * Decodes one UDP payload. The returned option values are views into `buf` (copy them before
 * reusing the buffer beyond the current packet).
 */
export function decodePacket(input: Uint8Array): DecodeResult {
  // Plain Uint8Array views: sub-views of a Buffer are Buffers, which cost more to create.
  const buf = Buffer.isBuffer(input)
    ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength)
    : input;
  if (buf.length < HEADER_SIZE)
    return fail('too-short', `${buf.length} bytes, a BOOTP header is ${HEADER_SIZE}`);
  const op = buf[0]!;
  if (op !== BOOTREQUEST && op !== BOOTREPLY) return fail('bad-op', `op ${op}`);
  const hlen = buf[2]!;
  if (hlen > 16) return fail('bad-hlen', `hlen ${hlen} exceeds the 16-byte chaddr field`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const packet: DhcpPacket = {
    op,
    htype: buf[1]!,
    hlen,
    hops: buf[3]!,
    xid: dv.getUint32(4),
    secs: dv.getUint16(8),
    flags: dv.getUint16(10),
    ciaddr: readIp(buf, 12),
    yiaddr: readIp(buf, 16),
    siaddr: readIp(buf, 20),
    giaddr: readIp(buf, 24),
    chaddr: buf.subarray(28, 44),
    sname: '',
    file: '',
    dhcp: false,
    options: new Map(),
  };
  if (buf.length < HEADER_SIZE + 4 || dv.getUint32(HEADER_SIZE) !== MAGIC_COOKIE) {
    packet.sname = cString(buf, 44, 64);
    packet.file = cString(buf, 108, 128);
    return { ok: true, packet };
  }
  packet.dhcp = true;
  const err = readOptionArea(buf, HEADER_SIZE + 4, buf.length, packet.options);
  if (err) return fail('option-overrun', err);
  const overload = packet.options.get(OPT.OVERLOAD);
  let overloadValue = 0;
  if (overload) {
    if (overload.length !== 1 || overload[0]! < 1 || overload[0]! > 3) {
      return fail(
        'bad-overload',
        `option 52 must be one byte 1..3, got ${Buffer.from(overload).toString('hex')}`,
      );
    }
    overloadValue = overload[0]!;
    packet.options.delete(OPT.OVERLOAD);
    // RFC 2131 §4.1: options field first, then `file`, then `sname`.
    if (overloadValue & 1) {
      const e = readOptionArea(buf, 108, 236, packet.options);
      if (e) return fail('option-overrun', `in file field: ${e}`);
    }
    if (overloadValue & 2) {
      const e = readOptionArea(buf, 44, 108, packet.options);
      if (e) return fail('option-overrun', `in sname field: ${e}`);
    }
  }
  if (!(overloadValue & 2)) packet.sname = cString(buf, 44, 64);
  if (!(overloadValue & 1)) packet.file = cString(buf, 108, 128);
  return { ok: true, packet };
}

/** An option to encode, in the order given. Values longer than 255 bytes are split (RFC 3396). */
export type OptionList = Array<[code: number, data: Uint8Array]>;

export interface EncodeInput extends BootpHeader {
  chaddr: Uint8Array;
  sname: string;
  file: string;
  options: OptionList;
}

export interface EncodeOptions {
  /** Largest payload the receiver accepts (default 548); option overload is used beyond it. */
  maxSize?: number;
  /** Payloads are zero-padded up to this size (default 300, RFC 1542). */
  minSize?: number;
  /**
   * Bytes reserved (zeroed) before the message in the same buffer, so a raw-socket transport
   * can write the IP and UDP headers in place instead of copying the message.
   */
  headroom?: number;
}

export interface Encoded {
  bytes: Buffer;
  /** Codes that did not fit anywhere, even with overload; the caller logs them. */
  dropped: readonly number[];
  /** The overload value used (0 when everything fit in the options field). */
  overload: number;
}

/** Shared by every reply that fit (the common case): fewer arrays per reply. Never mutated. */
const NOTHING_DROPPED: number[] = [];
const NO_PARTS: Uint8Array[] = [];

/** Splits each option into wire chunks (code, len, data) of at most 255 data bytes. */
function chunks(options: OptionList): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const [code, data] of options) {
    if (data.length === 0) {
      out.push(Uint8Array.of(code, 0));
      continue;
    }
    for (let i = 0; i < data.length; i += 255) {
      const part = data.subarray(i, Math.min(i + 255, data.length));
      const c = new Uint8Array(2 + part.length);
      c[0] = code;
      c[1] = part.length;
      c.set(part, 2);
      out.push(c);
    }
  }
  return out;
}

/**
 * The latin1 bytes of the few sname/file values replies carry (boot file names, chain URLs),
 * each at most `size - 1` bytes: `Buffer.write` per reply was a tenth of the encoder's time.
 */
const fieldBytes = new Map<string, Uint8Array>();

function writeLatin1Field(buf: Buffer, off: number, size: number, s: string): void {
  if (s === '') return;
  let b = fieldBytes.get(s);
  if (b === undefined) {
    // Longer values are cut; the policy never produces them (config limits), so this only guards.
    b = Buffer.from(s, 'latin1').subarray(0, 127);
    if (fieldBytes.size >= 1024) fieldBytes.clear();
    fieldBytes.set(s, b);
  }
  buf.set(b.length < size ? b : b.subarray(0, size - 1), off);
}

/**
 * Encodes a message. Options go in the options field; when they do not fit in `maxSize` and
 * `file`/`sname` are empty, those fields carry the rest (option 52). Never throws on valid
 * input types; oversize leftovers are reported in `dropped`.
 */
export function encodePacket(p: EncodeInput, opts: EncodeOptions = {}): Encoded {
  const maxSize = Math.max(DEFAULT_MAX_MESSAGE, opts.maxSize ?? DEFAULT_MAX_MESSAGE);
  const minSize = opts.minSize ?? MIN_REPLY_SIZE;
  // Wire size of the options as encoded (each instance carries at most 255 bytes, RFC 3396).
  let optionBytes = 0;
  for (let i = 0; i < p.options.length; i++) {
    const n = p.options[i]![1].length;
    optionBytes += n + (n <= 255 ? 2 : 2 * Math.ceil(n / 255));
  }
  const mainRoom = maxSize - HEADER_SIZE - 4;
  let dropped: number[] = NOTHING_DROPPED;
  let overload = 0;
  // The common case (everything fits the options field) writes straight from `p.options`.
  let main: Uint8Array[] | undefined;
  let fileParts: Uint8Array[] = NO_PARTS;
  let snameParts: Uint8Array[] = NO_PARTS;
  if (optionBytes + 1 > mainRoom) {
    const parts = chunks(p.options);
    // Room in each area, keeping one byte for END (and three for option 52 in the main area).
    const areas: Array<{ room: number; list: Uint8Array[]; bit: number }> = [
      { room: mainRoom - 1 - 3, list: [], bit: 0 },
    ];
    if (p.file === '') areas.push({ room: 128 - 1, list: [], bit: 1 });
    if (p.sname === '') areas.push({ room: 64 - 1, list: [], bit: 2 });
    // Areas fill in order (options, file, sname) so split options stay in RFC 3396 order.
    let a = 0;
    for (const part of parts) {
      let b = a;
      while (b < areas.length && areas[b]!.room < part.length) b++;
      if (b >= areas.length) {
        if (dropped === NOTHING_DROPPED) dropped = [];
        if (!dropped.includes(part[0]!)) dropped.push(part[0]!);
        continue;
      }
      a = b;
      areas[a]!.list.push(part);
      areas[a]!.room -= part.length;
      overload |= areas[a]!.bit;
    }
    main = areas[0]!.list;
    fileParts = areas.find((x) => x.bit === 1)?.list ?? [];
    snameParts = areas.find((x) => x.bit === 2)?.list ?? [];
    if (overload) main = [Uint8Array.of(OPT.OVERLOAD, 1, overload), ...main];
  }
  const mainLen = (main ? main.reduce((n, c) => n + c.length, 0) : optionBytes) + 1;
  const size = Math.max(minSize, HEADER_SIZE + 4 + mainLen);
  const headroom = opts.headroom ?? 0;
  // allocUnsafe takes small buffers from Node's shared slab (Buffer.alloc makes one
  // ArrayBuffer each, which shows up as GC time at thousands of replies per second).
  const frame = Buffer.allocUnsafe(headroom + size).fill(0);
  const buf = frame.subarray(headroom);
  buf[0] = p.op;
  buf[1] = p.htype;
  buf[2] = p.hlen;
  buf[3] = p.hops;
  buf.writeUInt32BE(p.xid >>> 0, 4);
  buf.writeUInt16BE(p.secs & 0xffff, 8);
  buf.writeUInt16BE(p.flags & 0xffff, 10);
  writeIp(buf, 12, p.ciaddr);
  writeIp(buf, 16, p.yiaddr);
  writeIp(buf, 20, p.siaddr);
  writeIp(buf, 24, p.giaddr);
  buf.set(p.chaddr.length <= 16 ? p.chaddr : p.chaddr.subarray(0, 16), 28);
  if (overload & 2) writeArea(buf, 44, snameParts);
  else writeLatin1Field(buf, 44, 64, p.sname);
  if (overload & 1) writeArea(buf, 108, fileParts);
  else writeLatin1Field(buf, 108, 128, p.file);
  buf.writeUInt32BE(MAGIC_COOKIE, HEADER_SIZE);
  if (main) writeArea(buf, HEADER_SIZE + 4, main);
  else writeOptions(buf, HEADER_SIZE + 4, p.options);
  return { bytes: buf, dropped, overload };
}

function writeOptions(buf: Buffer, off: number, options: OptionList): void {
  let i = off;
  for (let o = 0; o < options.length; o++) {
    const code = options[o]![0];
    const data = options[o]![1];
    let from = 0;
    do {
      const n = Math.min(255, data.length - from);
      buf[i++] = code;
      buf[i++] = n;
      // A byte loop: replies carry many 1-16 byte values, where subarray + set cost more.
      for (let k = 0; k < n; k++) buf[i++] = data[from + k]!;
      from += n;
    } while (from < data.length);
  }
  buf[i] = OPT.END;
}

function writeArea(buf: Buffer, off: number, parts: Uint8Array[]): void {
  let i = off;
  for (const c of parts) {
    buf.set(c, i);
    i += c.length;
  }
  buf[i] = OPT.END;
}

/**
 * The option 53 value of the DHCP message at `buf[off…]`, 0 if none or unreadable: a cheap peek
 * for overload shedding, which drops new DISCOVERs before REQUESTs of exchanges already begun.
 */
export function peekMessageType(buf: Uint8Array, off: number): number {
  let i = off + HEADER_SIZE + 4;
  if (buf.length < i) return 0;
  while (i + 1 < buf.length) {
    const code = buf[i]!;
    if (code === OPT.PAD) {
      i++;
      continue;
    }
    if (code === OPT.END) return 0;
    if (code === OPT.MESSAGE_TYPE) return buf[i + 1] === 1 && i + 2 < buf.length ? buf[i + 2]! : 0;
    i += 2 + buf[i + 1]!;
  }
  return 0;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** The `aa:bb:…` form of chaddr for Ethernet (htype 1, hlen 6); undefined otherwise. */
export function macOf(p: Pick<DhcpPacket, 'htype' | 'hlen' | 'chaddr'>): string | undefined {
  if (p.htype !== 1 || p.hlen !== 6) return undefined;
  const c = p.chaddr;
  return `${HEX[c[0]!]}:${HEX[c[1]!]}:${HEX[c[2]!]}:${HEX[c[3]!]}:${HEX[c[4]!]}:${HEX[c[5]!]}`;
}
