/**
 * IPv4 addresses as unsigned 32-bit numbers: the DHCP hot path compares and indexes addresses,
 * and numbers are cheaper than strings for that. Strings appear only at the edges (config,
 * logs, store records).
 */

export type Ip = number;

const DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Parses `a.b.c.d`; undefined when it is not a valid dotted quad. */
export function parseIp(s: string): Ip | undefined {
  const m = DOTTED.exec(s);
  if (!m) return undefined;
  let out = 0;
  for (let i = 1; i <= 4; i++) {
    const n = Number(m[i]);
    if (n > 255) return undefined;
    out = out * 256 + n;
  }
  return out;
}

/** Like parseIp for values already validated by the config schema. */
export function ip(s: string): Ip {
  const v = parseIp(s);
  if (v === undefined) throw new TypeError(`not an IPv4 address: ${s}`);
  return v;
}

export function formatIp(v: Ip): string {
  return `${(v >>> 24) & 255}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

export function readIp(buf: Uint8Array, off: number): Ip {
  return ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}

export function writeIp(buf: Uint8Array, off: number, v: Ip): void {
  buf[off] = (v >>> 24) & 255;
  buf[off + 1] = (v >>> 16) & 255;
  buf[off + 2] = (v >>> 8) & 255;
  buf[off + 3] = v & 255;
}

export interface Cidr {
  network: Ip;
  prefix: number;
  mask: Ip;
}

export function parseCidr(s: string): Cidr {
  const [addr, len] = s.split('/');
  const prefix = Number(len);
  const base = parseIp(addr ?? '');
  if (base === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) {
    throw new TypeError(`not an IPv4 network: ${s}`);
  }
  const mask = prefixMask(prefix);
  return { network: (base & mask) >>> 0, prefix, mask };
}

export function prefixMask(prefix: number): Ip {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function inCidr(c: Cidr, v: Ip): boolean {
  return (v & c.mask) >>> 0 === c.network;
}

export function broadcastOf(c: Cidr): Ip {
  return (c.network | (~c.mask >>> 0)) >>> 0;
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.network)}/${c.prefix}`;
}

export const IP_ANY: Ip = 0;
export const IP_BROADCAST: Ip = 0xffffffff;
