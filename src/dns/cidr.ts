/** IPv4 networks as integers: client-address matching for views, ACLs and reverse zones. */
export interface Ipv4Net {
  base: number;
  prefix: number;
  mask: number;
}

/** Dotted quad → unsigned 32-bit integer; undefined when malformed. */
export function ipv4ToInt(ip: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return undefined;
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255) return undefined;
    n = n * 256 + o;
  }
  return n;
}

export function intToIpv4(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export function parseCidr(cidr: string): Ipv4Net {
  const [ip, len] = cidr.split('/');
  const base = ipv4ToInt(ip ?? '');
  const prefix = Number(len);
  if (base === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) {
    throw new RangeError(`bad IPv4 network "${cidr}"`);
  }
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return { base: (base & mask) >>> 0, prefix, mask };
}

export function netContains(net: Ipv4Net, ip: number): boolean {
  return (ip & net.mask) >>> 0 === net.base;
}

/**
 * Client address from a socket (`::ffff:a.b.c.d` on dual-stack sockets) → integer, or
 * undefined for IPv6 clients (which match no IPv4 ACL).
 */
export function clientIpv4(address: string): number | undefined {
  return ipv4ToInt(address.startsWith('::ffff:') ? address.slice(7) : address);
}

/** A set of networks answering "is this client in it" quickly. */
export class NetSet {
  private readonly nets: Ipv4Net[];
  constructor(cidrs: readonly string[]) {
    this.nets = cidrs.map(parseCidr);
  }
  has(ip: number | undefined): boolean {
    if (ip === undefined) return false;
    for (const n of this.nets) if ((ip & n.mask) >>> 0 === n.base) return true;
    return false;
  }
  get empty(): boolean {
    return this.nets.length === 0;
  }
}

/**
 * The /24 reverse zones (`c.b.a.in-addr.arpa`) covering a network. A network longer than /24
 * gets its containing /24 (no RFC 2317 classless delegation: we are authoritative for both
 * sides); one shorter than /16 is refused to keep the zone count sane.
 */
export function reverseZones24(net: Ipv4Net): string[] {
  if (net.prefix < 16) throw new RangeError('reverse zones are generated for networks of /16 or longer');
  const first = net.base >>> 8;
  const count = net.prefix >= 24 ? 1 : 1 << (24 - net.prefix);
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(reverseZone24(((first + i) << 8) >>> 0));
  return out;
}

export function reverseZone24(ip: number): string {
  return `${(ip >>> 8) & 255}.${(ip >>> 16) & 255}.${(ip >>> 24) & 255}.in-addr.arpa`;
}
