/** IPv4 arithmetic for pool allocation (spec §2.2). */
export function ipv4ToInt(ip: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p, i) => p > 255 || (m[i + 1]!.length > 1 && m[i + 1]!.startsWith('0')))) return undefined;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

export function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export interface Ipv4Network {
  network: number;
  prefix: number;
  /** Number of addresses in the network (2^(32-prefix)). */
  size: number;
}

/**
 * Parses `a.b.c.d/len` strictly, like Python's `ip_network()`: host bits must be zero.
 * Returns undefined when the text is not such a network.
 */
export function parseIpv4Network(cidr: string): Ipv4Network | undefined {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(cidr.trim());
  if (!m) return undefined;
  const addr = ipv4ToInt(m[1]!);
  const prefix = Number(m[2]);
  if (addr === undefined || prefix > 32) return undefined;
  const size = 2 ** (32 - prefix);
  if (addr % size !== 0) return undefined;
  return { network: addr, prefix, size };
}

/**
 * The address `last` positions after the network address, or undefined when it would be the
 * broadcast address or beyond (the documented deviation: the original wrapped into the next
 * network silently).
 */
export function addressInPool(net: Ipv4Network, last: number): string | undefined {
  if (!Number.isInteger(last) || last < 1) return undefined;
  const lastUsable = net.size >= 4 ? net.size - 2 : net.size - 1;
  if (last > lastUsable) return undefined;
  return intToIpv4(net.network + last);
}
