/**
 * IPv4 + UDP headers for the raw sockets of the interface transport: a raw IPPROTO_UDP socket
 * receives whole IP datagrams, and with IP_HDRINCL we write our own headers, which is how a
 * reply gets the served interface's address as its source. No I/O.
 */
import { type Ip, readIp, writeIp } from './ipv4.js';

export interface UdpDatagram {
  src: Ip;
  dst: Ip;
  srcPort: number;
  dstPort: number;
  payload: Buffer;
}

export type UdpParse =
  | { ok: true; datagram: UdpDatagram }
  | { ok: false; reason: 'not-ipv4' | 'not-udp' | 'fragment' | 'truncated' | 'bad-length' };

/** Parses an IPv4 datagram carrying UDP. The payload is a view into `buf`. */
export function parseIpUdp(buf: Buffer): UdpParse {
  if (buf.length < 20 || buf[0]! >> 4 !== 4) return { ok: false, reason: 'not-ipv4' };
  const ihl = (buf[0]! & 0x0f) * 4;
  if (ihl < 20 || buf.length < ihl + 8) return { ok: false, reason: 'truncated' };
  if (buf[9] !== 17) return { ok: false, reason: 'not-udp' };
  const fragment = buf.readUInt16BE(6);
  // More-fragments set or a non-zero offset: DHCP messages are never fragmented by real clients.
  if (fragment & 0x3fff) return { ok: false, reason: 'fragment' };
  const total = buf.readUInt16BE(2);
  const end = Math.min(total || buf.length, buf.length);
  const udpLen = buf.readUInt16BE(ihl + 4);
  if (udpLen < 8 || ihl + udpLen > end) return { ok: false, reason: 'bad-length' };
  return {
    ok: true,
    datagram: {
      src: readIp(buf, 12),
      dst: readIp(buf, 16),
      srcPort: buf.readUInt16BE(ihl),
      dstPort: buf.readUInt16BE(ihl + 2),
      payload: buf.subarray(ihl + 8, ihl + udpLen),
    },
  };
}

/** Reads only the destination port of a UDP-in-IPv4 datagram (the cheap first filter). */
export function udpDstPort(buf: Buffer): number {
  if (buf.length < 28) return -1;
  const ihl = (buf[0]! & 0x0f) * 4;
  if (buf.length < ihl + 4) return -1;
  return (buf[ihl + 2]! << 8) | buf[ihl + 3]!;
}

function sum16(buf: Uint8Array, start: number, end: number, acc: number): number {
  let s = acc;
  let i = start;
  for (; i + 1 < end; i += 2) s += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) s += buf[i]! << 8;
  return s;
}

function fold(s: number): number {
  let v = s;
  while (v > 0xffff) v = (v & 0xffff) + (v >>> 16);
  return v;
}

/**
 * Builds IPv4 + UDP + payload. The kernel fills the IP checksum and (when zero) the IP id for
 * IP_HDRINCL sockets; the UDP checksum (RFC 768, over the pseudo-header) is ours.
 */
export function buildIpUdp(
  src: Ip,
  dst: Ip,
  srcPort: number,
  dstPort: number,
  payload: Uint8Array,
  tos = 0,
): Buffer {
  const udpLen = 8 + payload.length;
  const total = 20 + udpLen;
  const buf = Buffer.alloc(total);
  buf[0] = 0x45;
  buf[1] = tos;
  buf.writeUInt16BE(total, 2);
  buf[8] = 64;
  buf[9] = 17;
  writeIp(buf, 12, src);
  writeIp(buf, 16, dst);
  buf.writeUInt16BE(srcPort, 20);
  buf.writeUInt16BE(dstPort, 22);
  buf.writeUInt16BE(udpLen, 24);
  buf.set(payload, 28);
  let s = sum16(buf, 12, 20, 0);
  s += 17 + udpLen;
  s = sum16(buf, 20, total, s);
  const c = ~fold(s) & 0xffff;
  // RFC 768: a computed checksum of zero is sent as all ones (zero means "no checksum").
  buf.writeUInt16BE(c === 0 ? 0xffff : c, 26);
  // The IP header checksum, in case the kernel leaves it (it does not for IP_HDRINCL, but tests read it).
  buf.writeUInt16BE(~fold(sum16(buf, 0, 20, 0)) & 0xffff, 10);
  return buf;
}
