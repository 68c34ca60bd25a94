import { endianness } from 'node:os';
import { GatehouseError } from '../../errors.js';
import { CT_STATE, type CtKey, FAMILIES, IPPROTO, NFT_REG_1 } from './constants.js';
import type { Expr } from './expr.js';

/**
 * The expression sequences nft itself generates for the matches Gatehouse uses, so that
 * `nft list ruleset` prints our rules back in their familiar form (`ip saddr 192.168.0.0/23`,
 * `ct state established,related`…). Golden tests compare these against
 * `nft --debug=netlink add rule …`.
 */
const R = NFT_REG_1;
const IFNAMSIZ = 16;
const hostLE = endianness() === 'LE';

/** Host-order integers: meta keys such as nfproto, l4proto, iif and iiftype are not in network order. */
function hostUint(v: number, bytes: 1 | 2 | 4): Buffer {
  const b = Buffer.alloc(bytes);
  if (bytes === 1) b.writeUInt8(v);
  else if (bytes === 2) hostLE ? b.writeUInt16LE(v) : b.writeUInt16BE(v);
  else hostLE ? b.writeUInt32LE(v >>> 0) : b.writeUInt32BE(v >>> 0);
  return b;
}

export function ifnameBytes(name: string): Buffer {
  const raw = Buffer.from(name, 'utf8');
  if (raw.length === 0 || raw.length >= IFNAMSIZ) {
    throw new GatehouseError('GH_CONFIG_INVALID', `interface name "${name}" must be 1–15 bytes`);
  }
  const b = Buffer.alloc(IFNAMSIZ);
  raw.copy(b);
  return b;
}

export function ipv4Bytes(ip: string): Buffer {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new GatehouseError('GH_CONFIG_INVALID', `"${ip}" is not an IPv4 address`);
  }
  return Buffer.from(parts);
}

export function parseCidr(cidr: string): { addr: Buffer; prefix: number } {
  const [ip, len] = cidr.split('/');
  const prefix = len === undefined ? 32 : Number(len);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32)
    throw new GatehouseError('GH_CONFIG_INVALID', `"${cidr}" is not an IPv4 network`);
  const addr = ipv4Bytes(ip ?? '');
  const masked = maskBytes(prefix);
  for (let i = 0; i < 4; i++) addr[i]! &= masked[i]!;
  return { addr, prefix };
}

function maskBytes(prefix: number): Buffer {
  const m = Buffer.alloc(4);
  for (let i = 0; i < 4; i++) {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    m[i] = bits === 0 ? 0 : (0xff << (8 - bits)) & 0xff;
  }
  return m;
}

export function be16Bytes(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
}

/** In an `inet` table, an IPv4 header match first checks the packet is IPv4. */
function nfprotoIs(family: number): Expr[] {
  return [
    { kind: 'meta', key: 'nfproto', dreg: R },
    { kind: 'cmp', sreg: R, op: 'eq', data: hostUint(family, 1) },
  ];
}

/** Loads an IPv4 header field (saddr at 12, daddr at 16), with the family guard in `inet`. */
function ipField(tableFamily: number, offset: number, len: number): Expr[] {
  const guard = tableFamily === FAMILIES.inet ? nfprotoIs(FAMILIES.ip) : [];
  return [...guard, { kind: 'payload', base: 'network', offset, len, dreg: R }];
}

/** `ip saddr|daddr <cidr>`: byte-aligned prefixes load fewer bytes; others mask (as nft does). */
export function ipAddrIn(tableFamily: number, field: 'saddr' | 'daddr', cidr: string): Expr[] {
  const { addr, prefix } = parseCidr(cidr);
  const offset = field === 'saddr' ? 12 : 16;
  if (prefix % 8 === 0 && prefix > 0) {
    const n = prefix / 8;
    return [
      ...ipField(tableFamily, offset, n),
      { kind: 'cmp', sreg: R, op: 'eq', data: addr.subarray(0, n) },
    ];
  }
  return [
    ...ipField(tableFamily, offset, 4),
    { kind: 'bitwise', sreg: R, dreg: R, len: 4, mask: maskBytes(prefix), xor: Buffer.alloc(4) },
    { kind: 'cmp', sreg: R, op: 'eq', data: addr },
  ];
}

/** `ip saddr|daddr @set`. */
export function ipAddrInSet(
  tableFamily: number,
  field: 'saddr' | 'daddr',
  set: string,
  setId?: number,
): Expr[] {
  return [...ipField(tableFamily, field === 'saddr' ? 12 : 16, 4), lookup(set, setId)];
}

function lookup(set: string, setId?: number): Expr {
  return setId === undefined ? { kind: 'lookup', sreg: R, set } : { kind: 'lookup', sreg: R, set, setId };
}

/** `ct state a,b…`: any of the state bits. */
export function ctStateAny(states: ReadonlyArray<keyof typeof CT_STATE>): Expr[] {
  const mask = states.reduce((m, s) => m | CT_STATE[s], 0);
  return [
    { kind: 'ct', key: 'state' satisfies CtKey, dreg: R },
    { kind: 'bitwise', sreg: R, dreg: R, len: 4, mask: hostUint(mask, 4), xor: Buffer.alloc(4) },
    { kind: 'cmp', sreg: R, op: 'neq', data: Buffer.alloc(4) },
  ];
}

export function iifname(name: string): Expr[] {
  return [
    { kind: 'meta', key: 'iifname', dreg: R },
    { kind: 'cmp', sreg: R, op: 'eq', data: ifnameBytes(name) },
  ];
}

export function oifname(name: string): Expr[] {
  return [
    { kind: 'meta', key: 'oifname', dreg: R },
    { kind: 'cmp', sreg: R, op: 'eq', data: ifnameBytes(name) },
  ];
}

/** `udp|tcp dport @set` (the l4proto guard nft adds in inet/ip tables). */
export function dportInSet(proto: 'tcp' | 'udp', set: string, setId?: number): Expr[] {
  return [
    { kind: 'meta', key: 'l4proto', dreg: R },
    { kind: 'cmp', sreg: R, op: 'eq', data: hostUint(IPPROTO[proto], 1) },
    { kind: 'payload', base: 'transport', offset: 2, len: 2, dreg: R },
    lookup(set, setId),
  ];
}

/** `ether type <type>` in a netdev chain (nft guards it with `meta iiftype ether`). */
export function etherType(type: number): Expr[] {
  const ARPHRD_ETHER = 1;
  return [
    { kind: 'meta', key: 'iiftype', dreg: R },
    { kind: 'cmp', sreg: R, op: 'eq', data: hostUint(ARPHRD_ETHER, 2) },
    { kind: 'payload', base: 'link', offset: 12, len: 2, dreg: R },
    { kind: 'cmp', sreg: R, op: 'eq', data: be16Bytes(type) },
  ];
}

export const accept: Expr = { kind: 'verdict', verdict: 'accept' };
export const drop: Expr = { kind: 'verdict', verdict: 'drop' };
export const masquerade: Expr = { kind: 'masq' };

export function logToGroup(group: number, prefix?: string): Expr {
  return prefix === undefined ? { kind: 'log', group } : { kind: 'log', prefix, group };
}
