import { createHmac, timingSafeEqual } from 'node:crypto';
import { RRClass, RRType, TsigError } from './constants.js';
import type { TsigRecord } from './decode.js';
import { canonicalName, nameToWire } from './names.js';

/**
 * TSIG (RFC 8945) with HMAC-SHA256, the algorithm NSD, Knot and BIND all accept. Only what
 * zone transfers and NOTIFY need: verify a signed request, sign its response (or each message
 * of a multi-message AXFR/IXFR stream), sign and check NOTIFY.
 */
export interface TsigKey {
  /** Canonical key name. */
  name: string;
  algorithm: 'hmac-sha256';
  secret: Buffer;
}

export const HMAC_SHA256 = 'hmac-sha256';
export const DEFAULT_FUDGE = 300;

export type TsigVerdict =
  | { ok: true; key: TsigKey; requestMac: Buffer }
  /** `key` is set when the key was known (BADSIG/BADTIME answers are then signed, RFC 8945 §5.3.2). */
  | { ok: false; error: number; key: TsigKey | undefined; reason: string; requestMac: Buffer };

export function keyMap(
  keys: readonly { name: string; algorithm: 'hmac-sha256'; secret: string }[],
): Map<string, TsigKey> {
  const out = new Map<string, TsigKey>();
  for (const k of keys) {
    const name = canonicalName(k.name);
    out.set(name, { name, algorithm: k.algorithm, secret: Buffer.from(k.secret, 'base64') });
  }
  return out;
}

function u48(n: number): Buffer {
  const b = Buffer.alloc(6);
  b.writeUInt16BE(Math.floor(n / 2 ** 32), 0);
  b.writeUInt32BE(n % 2 ** 32, 2);
  return b;
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function variables(key: TsigKey, time: number, fudge: number, error: number, other: Buffer): Buffer[] {
  const ttlClass = Buffer.alloc(6);
  ttlClass.writeUInt16BE(RRClass.ANY, 0);
  ttlClass.writeUInt32BE(0, 2);
  return [
    nameToWire(key.name),
    ttlClass,
    nameToWire(HMAC_SHA256),
    u48(time),
    u16(fudge),
    u16(error),
    u16(other.length),
    other,
  ];
}

/** The message as it was before the TSIG RR was added: no TSIG, ARCOUNT - 1, original ID. */
function stripTsig(msg: Uint8Array, tsig: TsigRecord): Buffer {
  const out = Buffer.from(msg.subarray(0, tsig.offset));
  out.writeUInt16BE(tsig.originalId, 0);
  out.writeUInt16BE(out.readUInt16BE(10) - 1, 10);
  return out;
}

function hmac(key: TsigKey, parts: Buffer[]): Buffer {
  const h = createHmac('sha256', key.secret);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** Checks a request's TSIG (RFC 8945 §5.2). */
export function verifyRequest(
  msg: Uint8Array,
  tsig: TsigRecord,
  keys: ReadonlyMap<string, TsigKey>,
  nowSeconds: number,
): TsigVerdict {
  const key = keys.get(tsig.keyName);
  const requestMac = tsig.mac;
  if (!key || tsig.algorithm !== HMAC_SHA256) {
    return {
      ok: false,
      error: TsigError.BADKEY,
      key: undefined,
      reason: `unknown key ${tsig.keyName}`,
      requestMac,
    };
  }
  const expected = hmac(key, [
    stripTsig(msg, tsig),
    ...variables(key, tsig.timeSigned, tsig.fudge, tsig.error, tsig.otherData),
  ]);
  // RFC 8945 §5.2.2.1: a MAC shorter than half the hash (or 10 bytes) is refused.
  if (
    tsig.mac.length < 16 ||
    tsig.mac.length > expected.length ||
    !timingSafeEqual(tsig.mac, expected.subarray(0, tsig.mac.length))
  ) {
    return { ok: false, error: TsigError.BADSIG, key: undefined, reason: 'MAC does not verify', requestMac };
  }
  if (Math.abs(nowSeconds - tsig.timeSigned) > tsig.fudge) {
    return { ok: false, error: TsigError.BADTIME, key, reason: 'time signed outside fudge', requestMac };
  }
  return { ok: true, key, requestMac };
}

export interface SignOptions {
  /** MAC of the request this message answers (first response message). */
  requestMac?: Buffer;
  /** MAC of the previous message of the same stream (subsequent messages, RFC 8945 §5.3.1). */
  priorMac?: Buffer;
  time: number;
  fudge?: number;
  error?: number;
  otherData?: Buffer;
  /** Original message ID to record (defaults to the message's ID). */
  originalId?: number;
}

/**
 * Appends a TSIG RR to `msg` (a complete message without TSIG) and returns the signed message
 * and its MAC (to chain the next message of a stream).
 */
export function signMessage(msg: Buffer, key: TsigKey, opts: SignOptions): { message: Buffer; mac: Buffer } {
  const fudge = opts.fudge ?? DEFAULT_FUDGE;
  const error = opts.error ?? 0;
  const other = opts.otherData ?? Buffer.alloc(0);
  const parts: Buffer[] = [];
  const prior = opts.priorMac ?? opts.requestMac;
  if (prior) parts.push(u16(prior.length), prior);
  parts.push(msg);
  if (opts.priorMac) parts.push(u48(opts.time), u16(fudge));
  else parts.push(...variables(key, opts.time, fudge, error, other));
  // RFC 8945 §5.3.2: a BADSIG/BADKEY answer carries an empty MAC.
  const mac = error === TsigError.BADSIG || error === TsigError.BADKEY ? Buffer.alloc(0) : hmac(key, parts);
  return {
    message: Buffer.concat([
      withArcount(msg, 1),
      tsigRecord(key, opts.time, fudge, mac, opts.originalId ?? msg.readUInt16BE(0), error, other),
    ]),
    mac,
  };
}

/** An unsigned TSIG RR for BADKEY answers (no key to sign with). */
export function unsignedTsig(
  msg: Buffer,
  keyName: string,
  time: number,
  originalId: number,
  error: number,
): Buffer {
  const key: TsigKey = { name: keyName, algorithm: 'hmac-sha256', secret: Buffer.alloc(0) };
  return Buffer.concat([
    withArcount(msg, 1),
    tsigRecord(key, time, DEFAULT_FUDGE, Buffer.alloc(0), originalId, error, Buffer.alloc(0)),
  ]);
}

function withArcount(msg: Buffer, add: number): Buffer {
  const out = Buffer.from(msg);
  out.writeUInt16BE(out.readUInt16BE(10) + add, 10);
  return out;
}

function tsigRecord(
  key: TsigKey,
  time: number,
  fudge: number,
  mac: Buffer,
  originalId: number,
  error: number,
  other: Buffer,
): Buffer {
  const rdata = Buffer.concat([
    nameToWire(HMAC_SHA256),
    u48(time),
    u16(fudge),
    u16(mac.length),
    mac,
    u16(originalId),
    u16(error),
    u16(other.length),
    other,
  ]);
  const head = Buffer.alloc(10);
  head.writeUInt16BE(RRType.TSIG, 0);
  head.writeUInt16BE(RRClass.ANY, 2);
  head.writeUInt32BE(0, 4);
  head.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([nameToWire(key.name), head, rdata]);
}

/**
 * Verifies a signed response we received (NOTIFY acknowledgements): `requestMac` is the MAC of
 * what we sent.
 */
export function verifyResponse(
  msg: Uint8Array,
  tsig: TsigRecord,
  key: TsigKey,
  requestMac: Buffer,
  nowSeconds: number,
): boolean {
  if (tsig.keyName !== key.name || tsig.algorithm !== HMAC_SHA256) return false;
  const expected = hmac(key, [
    u16(requestMac.length),
    requestMac,
    stripTsig(msg, tsig),
    ...variables(key, tsig.timeSigned, tsig.fudge, tsig.error, tsig.otherData),
  ]);
  if (tsig.mac.length !== expected.length || !timingSafeEqual(tsig.mac, expected)) return false;
  return Math.abs(nowSeconds - tsig.timeSigned) <= tsig.fudge;
}
