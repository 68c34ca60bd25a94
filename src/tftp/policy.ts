/**
 * What to do with a request, decided without I/O: which path under the root it names, whether it
 * is refused, and which options (RFC 2347) are granted. The server resolves the path on disk
 * (src/tftp/file-cache.ts) and hands the result back here as a `FileLookup`.
 */
import { type DecodeError, ERR, OP, type RequestPacket, type TftpOption } from './codec.js';

export type TransferMode = 'octet' | 'netascii';

export interface Refusal {
  kind: 'refuse';
  code: number;
  /** Sent to the client in the ERROR packet: short, no server paths. */
  message: string;
  /** Metric label and log field. */
  reason: RefusalReason;
}

export type RefusalReason =
  | 'write-refused'
  | 'bad-mode'
  | 'bad-path'
  | 'not-found'
  | 'access-denied'
  | 'no-root'
  | 'too-large';

export interface AcceptedRequest {
  kind: 'accept';
  /** Path relative to the root, `/`-separated, no empty, `.` or `..` components. */
  relative: string;
  mode: TransferMode;
}

const refuse = (code: number, message: string, reason: RefusalReason): Refusal => ({
  kind: 'refuse',
  code,
  message,
  reason,
});

/**
 * First look at a request: refuses writes, unknown modes and paths that could leave the root.
 * A leading `/` is taken relative to the root, as tftp-hpa does with `--secure`, because PXE
 * ROMs and DHCP `filename` options often carry one.
 */
export function checkRequest(req: RequestPacket): AcceptedRequest | Refusal {
  if (req.op === 'WRQ')
    return refuse(ERR.ACCESS_VIOLATION, 'Write requests are refused: read-only server', 'write-refused');
  if (req.mode !== 'octet' && req.mode !== 'netascii') {
    // "mail" (RFC 1350) is obsolete and anything else is not TFTP.
    return refuse(ERR.ILLEGAL_OPERATION, 'Unsupported transfer mode', 'bad-mode');
  }
  const path = confinePath(req.filename);
  if (path === undefined) return refuse(ERR.ACCESS_VIOLATION, 'Access violation', 'bad-path');
  return { kind: 'accept', relative: path, mode: req.mode };
}

/** The ERROR (RFC 1350 §5) a request that could not be decoded gets. */
export interface MalformedReply {
  code: number;
  /** Fixed text, never bytes of the request: a reply must not carry what a spoofer chose. */
  message: string;
}

/**
 * Whether a datagram that failed to decode is a read or write request (opcode 1 or 2): those,
 * and only those, get an ERROR instead of silence, so the client stops waiting at once as with
 * tftpd-hpa and dnsmasq. Anything else on the listening port is dropped (RFC 1350 §7 only asks
 * for errors about requests).
 */
export function isRequestShaped(datagram: Uint8Array): boolean {
  return datagram.length >= 2 && datagram[0] === 0 && (datagram[1] === OP.RRQ || datagram[1] === OP.WRQ);
}

/** Codes follow tftpd-hpa/dnsmasq: 4 for a request that is not TFTP, 8 (RFC 2347) for bad options. */
export function malformedRequestReply(error: DecodeError): MalformedReply {
  const illegal = (message: string) => ({ code: ERR.ILLEGAL_OPERATION, message });
  switch (error.part) {
    case 'filename':
      if (error.reason === 'bad-encoding')
        return { code: ERR.ACCESS_VIOLATION, message: 'File name is not UTF-8: refused' };
      if (error.reason === 'empty-filename') return illegal('Malformed request: empty file name');
      return illegal('Malformed request: file name not NUL-terminated');
    case 'mode':
      if (error.reason === 'bad-encoding') return illegal('Unsupported transfer mode (not UTF-8)');
      return illegal('Malformed request: mode not NUL-terminated');
    case 'option':
      if (error.reason === 'duplicate-option')
        return { code: ERR.OPTION_REFUSED, message: 'Malformed options: an option appears twice' };
      if (error.reason === 'bad-encoding')
        return { code: ERR.OPTION_REFUSED, message: 'Malformed options: not UTF-8' };
      if (error.reason === 'trailing-bytes') return illegal('Malformed request: bytes after the options');
      return { code: ERR.OPTION_REFUSED, message: 'Malformed options: not NUL-terminated' };
    default:
      return illegal('Malformed request');
  }
}

/** The root-relative path a filename names, or undefined if it must be refused. */
export function confinePath(filename: string): string | undefined {
  // Control characters have no business in a boot file name and confuse log readers.
  for (let i = 0; i < filename.length; i++)
    if (filename.charCodeAt(i) < 0x20 || filename.charCodeAt(i) === 0x7f) return undefined;
  const parts: string[] = [];
  for (const part of filename.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') return undefined;
    parts.push(part);
  }
  if (parts.length === 0) return undefined;
  return parts.join('/');
}

/** What the server found on disk for an accepted request. */
export type FileLookup =
  | { kind: 'found'; size: number }
  | { kind: 'missing' }
  | { kind: 'denied' }
  | { kind: 'no-root' }
  | { kind: 'too-large' };

export interface NegotiationLimits {
  maxBlksize: number;
  maxWindowsize: number;
  /** Retransmission interval when the client does not ask for one. */
  timeoutMs: number;
  /** Longest RFC 2349 timeout the server agrees to, so a client cannot pin a slot for minutes. */
  maxTimeoutMs: number;
}

export interface TransferPlan {
  kind: 'transfer';
  blksize: number;
  windowsize: number;
  timeoutMs: number;
  /** Options to acknowledge in an OACK, in the client's order; null = no OACK, start with DATA 1. */
  oack: TftpOption[] | null;
}

const DIGITS = /^[0-9]{1,10}$/;

/**
 * RFC 2347 negotiation: the OACK carries only options the server accepts; unknown or invalid
 * ones are left out, which the RFC defines as "not accepted" (the transfer then runs with the
 * default for that option). Refusing the whole transfer with error 8 would make a PXE ROM fail
 * to boot over a cosmetic difference.
 */
export function planTransfer(
  options: readonly TftpOption[],
  file: FileLookup,
  limits: NegotiationLimits,
): TransferPlan | Refusal {
  switch (file.kind) {
    case 'missing':
      return refuse(ERR.FILE_NOT_FOUND, 'File not found', 'not-found');
    case 'denied':
      return refuse(ERR.ACCESS_VIOLATION, 'Access violation', 'access-denied');
    case 'no-root':
      // The operator has not provisioned the root yet: to a client that is a missing file.
      return refuse(ERR.FILE_NOT_FOUND, 'File not found', 'no-root');
    case 'too-large':
      return refuse(ERR.NOT_DEFINED, 'File too large for netascii; ask for octet mode', 'too-large');
    case 'found':
      break;
  }
  let blksize = 512;
  let windowsize = 1;
  let timeoutMs = limits.timeoutMs;
  const oack: TftpOption[] = [];
  for (const o of options) {
    if (!DIGITS.test(o.value)) continue;
    const n = Number(o.value);
    switch (o.name) {
      case 'blksize':
        // RFC 2348: valid 8..65464; a server may answer with a smaller value than asked.
        if (n < 8) break;
        blksize = Math.min(n, limits.maxBlksize, 65464);
        oack.push({ name: 'blksize', value: String(blksize) });
        break;
      case 'tsize':
        // RFC 2349: the client sends 0 in a read request; the server answers with the size.
        oack.push({ name: 'tsize', value: String(file.size) });
        break;
      case 'timeout':
        // RFC 2349: 1..255 seconds and the server must echo the same value or leave it out.
        if (n < 1 || n > 255 || n * 1000 > limits.maxTimeoutMs) break;
        timeoutMs = n * 1000;
        oack.push({ name: 'timeout', value: String(n) });
        break;
      case 'windowsize':
        // RFC 7440: 1..65535; the server may answer with a smaller value.
        if (n < 1 || n > 65535) break;
        windowsize = Math.min(n, limits.maxWindowsize);
        oack.push({ name: 'windowsize', value: String(windowsize) });
        break;
      default:
        break;
    }
  }
  return { kind: 'transfer', blksize, windowsize, timeoutMs, oack: oack.length > 0 ? oack : null };
}
