/**
 * TFTP packets (RFC 1350) with option extension (RFC 2347): bytes <-> typed values.
 * No I/O, no clock. `decodePacket` never throws: garbage comes back as a typed `DecodeError`
 * so the server can count it by reason and drop it.
 */

export const OP = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;

/** RFC 1350 §5 error codes, plus 8 from RFC 2347 (option negotiation refused). */
export const ERR = {
  NOT_DEFINED: 0,
  FILE_NOT_FOUND: 1,
  ACCESS_VIOLATION: 2,
  DISK_FULL: 3,
  ILLEGAL_OPERATION: 4,
  UNKNOWN_TID: 5,
  FILE_EXISTS: 6,
  NO_SUCH_USER: 7,
  OPTION_REFUSED: 8,
} as const;

/** An option as it appeared on the wire: name lower-cased (RFC 2347: case-insensitive), value verbatim. */
export interface TftpOption {
  name: string;
  value: string;
}

export interface RequestPacket {
  op: 'RRQ' | 'WRQ';
  filename: string;
  /** Lower-cased (RFC 1350: case-insensitive); not validated here, the policy decides. */
  mode: string;
  options: TftpOption[];
}
export interface DataPacket {
  op: 'DATA';
  block: number;
  data: Uint8Array;
}
export interface AckPacket {
  op: 'ACK';
  block: number;
}
export interface ErrorPacket {
  op: 'ERROR';
  code: number;
  message: string;
}
export interface OackPacket {
  op: 'OACK';
  options: TftpOption[];
}
export type TftpPacket = RequestPacket | DataPacket | AckPacket | ErrorPacket | OackPacket;

export type DecodeErrorReason =
  | 'too-short'
  | 'bad-opcode'
  | 'unterminated-string'
  | 'empty-filename'
  | 'bad-encoding'
  | 'duplicate-option'
  | 'trailing-bytes';

export interface DecodeError {
  reason: DecodeErrorReason;
  detail: string;
  /** Which part of a request was at fault (absent for other packets and framing errors). */
  part?: 'filename' | 'mode' | 'option';
}

export type DecodeResult = { ok: true; packet: TftpPacket } | { ok: false; error: DecodeError };

const fail = (reason: DecodeErrorReason, detail: string, part?: DecodeError['part']): DecodeResult => ({
  ok: false,
  error: part ? { reason, detail, part } : { reason, detail },
});

/** Filenames and option strings are NUL-free byte strings; we accept UTF-8 and refuse anything else. */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function readString(
  buf: Uint8Array,
  start: number,
): { value: string; next: number } | 'unterminated' | 'bad-encoding' {
  const end = buf.indexOf(0, start);
  if (end < 0) return 'unterminated';
  try {
    return { value: utf8.decode(buf.subarray(start, end)), next: end + 1 };
  } catch {
    return 'bad-encoding';
  }
}

/** Reads NUL-terminated name/value pairs up to the end of the packet. */
function readOptions(buf: Uint8Array, start: number): { options: TftpOption[] } | DecodeError {
  const options: TftpOption[] = [];
  const seen = new Set<string>();
  let pos = start;
  while (pos < buf.length) {
    // Some PXE ROMs pad requests with extra NULs after the last option; an empty name ends the list.
    if (buf[pos] === 0) {
      for (let i = pos; i < buf.length; i++) {
        if (buf[i] !== 0)
          return {
            reason: 'trailing-bytes',
            detail: `non-NUL byte at offset ${i} after the options`,
            part: 'option',
          };
      }
      break;
    }
    const name = readString(buf, pos);
    if (name === 'unterminated')
      return { reason: 'unterminated-string', detail: `option name at offset ${pos}`, part: 'option' };
    if (name === 'bad-encoding')
      return { reason: 'bad-encoding', detail: `option name at offset ${pos}`, part: 'option' };
    const value = readString(buf, name.next);
    if (value === 'unterminated')
      return { reason: 'unterminated-string', detail: `value of option ${name.value}`, part: 'option' };
    if (value === 'bad-encoding')
      return { reason: 'bad-encoding', detail: `value of option ${name.value}`, part: 'option' };
    const lower = name.value.toLowerCase();
    // RFC 2347 does not say what a repeated option means; refusing is safer than guessing which wins.
    if (seen.has(lower))
      return { reason: 'duplicate-option', detail: `option ${lower} appears twice`, part: 'option' };
    seen.add(lower);
    options.push({ name: lower, value: value.value });
    pos = value.next;
  }
  return { options };
}

export function decodePacket(buf: Uint8Array): DecodeResult {
  if (buf.length < 2) return fail('too-short', `${buf.length} bytes; no opcode`);
  const opcode = (buf[0]! << 8) | buf[1]!;
  // DATA, ACK and ERROR carry a 2-byte number after the opcode; requests and OACK carry strings.
  if (buf.length < 4 && (opcode === OP.DATA || opcode === OP.ACK || opcode === OP.ERROR)) {
    return fail('too-short', `${buf.length} bytes; DATA, ACK and ERROR have at least 4`);
  }
  switch (opcode) {
    case OP.RRQ:
    case OP.WRQ: {
      const filename = readString(buf, 2);
      if (filename === 'unterminated')
        return fail('unterminated-string', 'filename has no NUL terminator', 'filename');
      if (filename === 'bad-encoding') return fail('bad-encoding', 'filename is not UTF-8', 'filename');
      if (filename.value.length === 0) return fail('empty-filename', 'filename is empty', 'filename');
      const mode = readString(buf, filename.next);
      if (mode === 'unterminated') return fail('unterminated-string', 'mode has no NUL terminator', 'mode');
      if (mode === 'bad-encoding') return fail('bad-encoding', 'mode is not UTF-8', 'mode');
      const opts = readOptions(buf, mode.next);
      if ('reason' in opts) return { ok: false, error: opts };
      return {
        ok: true,
        packet: {
          op: opcode === OP.RRQ ? 'RRQ' : 'WRQ',
          filename: filename.value,
          mode: mode.value.toLowerCase(),
          options: opts.options,
        },
      };
    }
    case OP.DATA:
      return { ok: true, packet: { op: 'DATA', block: (buf[2]! << 8) | buf[3]!, data: buf.subarray(4) } };
    case OP.ACK:
      // Some clients pad ACKs; RFC 1350 fixes the length at 4, extra bytes carry nothing.
      return { ok: true, packet: { op: 'ACK', block: (buf[2]! << 8) | buf[3]! } };
    case OP.ERROR: {
      const code = (buf[2]! << 8) | buf[3]!;
      // The message is for humans; a missing NUL or odd bytes must not hide the error code.
      const end = buf.indexOf(0, 4);
      const raw = buf.subarray(4, end < 0 ? buf.length : end);
      return { ok: true, packet: { op: 'ERROR', code, message: Buffer.from(raw).toString('latin1') } };
    }
    case OP.OACK: {
      const opts = readOptions(buf, 2);
      if ('reason' in opts) return { ok: false, error: opts };
      return { ok: true, packet: { op: 'OACK', options: opts.options } };
    }
    default:
      return fail('bad-opcode', `opcode ${opcode}`);
  }
}

function cstrings(parts: string[]): Buffer[] {
  const out: Buffer[] = [];
  for (const p of parts) out.push(Buffer.from(p, 'utf8'), Buffer.alloc(1));
  return out;
}

function withOpcode(op: number, rest: Buffer[]): Buffer {
  const head = Buffer.alloc(2);
  head.writeUInt16BE(op, 0);
  return Buffer.concat([head, ...rest]);
}

export function encodeRequest(p: Omit<RequestPacket, 'op'> & { op?: 'RRQ' | 'WRQ' }): Buffer {
  const parts = [p.filename, p.mode];
  for (const o of p.options) parts.push(o.name, o.value);
  return withOpcode(p.op === 'WRQ' ? OP.WRQ : OP.RRQ, cstrings(parts));
}

export function encodeOack(options: readonly TftpOption[]): Buffer {
  const parts: string[] = [];
  for (const o of options) parts.push(o.name, o.value);
  return withOpcode(OP.OACK, cstrings(parts));
}

/** Four-byte DATA header; the payload is sent beside it (scatter/gather) so it is never copied. */
export function encodeDataHeader(block: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b[0] = 0;
  b[1] = OP.DATA;
  b[2] = (block >>> 8) & 0xff;
  b[3] = block & 0xff;
  return b;
}

export function encodeData(block: number, data: Uint8Array): Buffer {
  return Buffer.concat([encodeDataHeader(block), data]);
}

export function encodeAck(block: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b[0] = 0;
  b[1] = OP.ACK;
  b[2] = (block >>> 8) & 0xff;
  b[3] = block & 0xff;
  return b;
}

export function encodeError(code: number, message: string): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16BE(OP.ERROR, 0);
  head.writeUInt16BE(code & 0xffff, 2);
  return Buffer.concat([head, Buffer.from(message, 'utf8'), Buffer.alloc(1)]);
}

/** Fast path for the hot loop: the block number of an ACK, or -1 if the datagram is not an ACK. */
export function peekAck(buf: Uint8Array): number {
  if (buf.length < 4 || buf[0] !== 0 || buf[1] !== OP.ACK) return -1;
  return (buf[2]! << 8) | buf[3]!;
}
