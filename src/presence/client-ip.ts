/**
 * The one reading of a client address given as text (`X-Real-IP`, or a socket's remote
 * address): every spelling of one address gives the same canonical form, anything that is not
 * exactly one address is refused with a reason. Pure, no I/O.
 *
 * Accepted:
 * - an IPv4 dotted quad of four decimal octets 0–255 without leading zeros (`198.18.0.2`);
 * - an IPv6 address in any RFC 4291 §2.2 text form (upper or lower case, leading zeros in a
 *   group, `::` anywhere, a dotted-quad tail). An IPv4-mapped one (`::ffff:0:0/96`, RFC 4291
 *   §2.5.5.2: what a dual-stack socket or nginx reports for an IPv4 client) IS that IPv4
 *   address; any other IPv6 address is returned in RFC 5952 form;
 * - optional whitespace around the value (HTTP field values, RFC 9110 §5.5).
 *
 * Refused (never guessed): leading zeros in an IPv4 octet (`010` is 8 to inet_aton and 10 to a
 * human), shorthand or integer IPv4 (`10.1`, `167772161`), brackets, ports, zone ids (a scoped
 * link-local address names no machine), several addresses, anything else.
 */
import { isIP } from 'node:net';

export type ParsedIp = { ok: true; ip: string; family: 4 | 6 } | { ok: false; reason: string };

/** Longer than any spelling of an address (45 characters for a full mapped form). */
const MAX_LENGTH = 64;

export function parseClientIp(text: string): ParsedIp {
  const value = text.replace(/^[ \t]+|[ \t]+$/g, '');
  if (value === '') return refuse('empty');
  if (value.length > MAX_LENGTH) return refuse(`longer than ${MAX_LENGTH} characters`);
  if (value.includes(',')) return refuse('several addresses; give exactly one');
  if (/\s/.test(value)) return refuse('whitespace inside the address');
  if (value.startsWith('[')) return refuse('brackets (and ports) do not belong in an address');
  if (value.includes('%'))
    return refuse('a zone id (%name) scopes a link-local address, which names no machine');
  const colon = value.indexOf(':');
  if (colon < 0) {
    const v4 = parseIpv4(value);
    return 'reason' in v4 ? refuse(v4.reason) : { ok: true, ip: v4.text, family: 4 };
  }
  if (colon === value.lastIndexOf(':') && !('reason' in parseIpv4(value.slice(0, colon)))) {
    return refuse('a port does not belong in an address');
  }
  const bytes = parseIpv6(value);
  if (!Array.isArray(bytes)) return refuse(bytes.reason);
  if (isV4Mapped(bytes)) return { ok: true, ip: bytes.slice(12).join('.'), family: 4 };
  return { ok: true, ip: formatIpv6(bytes), family: 6 };
}

function refuse(reason: string): ParsedIp {
  return { ok: false, reason };
}

function parseIpv4(text: string): { text: string; bytes: number[] } | { reason: string } {
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^[0-9]+$/.test(p))) {
    return { reason: 'not an address: IPv4 is four decimal octets a.b.c.d, IPv6 is hex groups' };
  }
  if (parts.some((p) => p.length > 1 && p.startsWith('0'))) {
    return { reason: 'leading zero in an IPv4 octet (octal or decimal? ambiguous, refused)' };
  }
  const bytes = parts.map(Number);
  if (bytes.some((b) => b > 255)) return { reason: 'IPv4 octet above 255' };
  if (isIP(text) !== 4) return { reason: 'not an IPv4 address' };
  return { text: bytes.join('.'), bytes };
}

/** RFC 4291 §2.2 text → 16 bytes (validated by node:net first, so only well-formed text is split). */
function parseIpv6(text: string): number[] | { reason: string } {
  if (isIP(text) !== 6) {
    // Name the likely mistake for the embedded IPv4 form; otherwise just say it is malformed.
    const tail = text.slice(text.lastIndexOf(':') + 1);
    if (tail.includes('.')) {
      const v4 = parseIpv4(tail);
      if ('reason' in v4) return { reason: `embedded IPv4 part: ${v4.reason}` };
    }
    return { reason: 'not an address: malformed IPv6 (RFC 4291 section 2.2)' };
  }
  const groups = (half: string): number[] => {
    if (half === '') return [];
    const out: number[] = [];
    for (const g of half.split(':')) {
      if (g.includes('.')) {
        const v4 = parseIpv4(g);
        if ('reason' in v4) throw new Error('unreachable: node:net accepted a bad dotted quad');
        out.push((v4.bytes[0]! << 8) | v4.bytes[1]!, (v4.bytes[2]! << 8) | v4.bytes[3]!);
      } else {
        out.push(Number.parseInt(g, 16));
      }
    }
    return out;
  };
  const gap = text.indexOf('::');
  let words: number[];
  if (gap < 0) {
    words = groups(text);
  } else {
    const head = groups(text.slice(0, gap));
    const tail = groups(text.slice(gap + 2));
    words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  }
  if (words.length !== 8) return { reason: 'not an address: an IPv6 address has 8 groups' };
  return words.flatMap((w) => [w >> 8, w & 0xff]);
}

function isV4Mapped(bytes: readonly number[]): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/** RFC 5952 §4: lower case, no leading zeros, the first longest run (≥ 2) of zero groups as `::`. */
export function formatIpv6(bytes: readonly number[]): string {
  const words = Array.from({ length: 8 }, (_, i) => (bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLen))}`;
}
