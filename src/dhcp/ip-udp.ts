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
  // Eight bytes per turn (a reply is ~330 bytes and this ran per reply); the high and low bytes
  // are summed apart and combined once, which is the same one's-complement sum.
  let hi = 0;
  let lo = 0;
  for (; i + 7 < end; i += 8) {
    hi += buf[i]! + buf[i + 2]! + buf[i + 4]! + buf[i + 6]!;
    lo += buf[i + 1]! + buf[i + 3]! + buf[i + 5]! + buf[i + 7]!;
  }
  s += hi * 256 + lo;
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
 * Writes IPv4 + UDP headers into the 28 bytes of `frame` before the payload (`frame` = 28
 * header bytes + payload). The kernel fills the IP id when zero for IP_HDRINCL sockets; both
 * checksums are ours (the UDP one over the pseudo-header, RFC 768).
 */
export function writeIpUdpHeaders(
  frame: Buffer,
  src: Ip,
  dst: Ip,
  srcPort: number,
  dstPort: number,
  tos = 0,
): Buffer {
  const total = frame.length;
  const udpLen = total - 20;
  frame[0] = 0x45;
  frame[1] = tos;
  frame.writeUInt16BE(total, 2);
  frame.writeUInt32BE(0, 4);
  frame[8] = 64;
  frame[9] = 17;
  frame.writeUInt16BE(0, 10);
  writeIp(frame, 12, src);
  writeIp(frame, 16, dst);
  frame.writeUInt16BE(srcPort, 20);
  frame.writeUInt16BE(dstPort, 22);
  frame.writeUInt16BE(udpLen, 24);
  frame.writeUInt16BE(0, 26);
  let s = sum16(frame, 12, 20, 0);
  s += 17 + udpLen;
  s = sum16(frame, 20, total, s);
  const c = ~fold(s) & 0xffff;
  // RFC 768: a computed checksum of zero is sent as all ones (zero means "no checksum").
  frame.writeUInt16BE(c === 0 ? 0xffff : c, 26);
  frame.writeUInt16BE(~fold(sum16(frame, 0, 20, 0)) & 0xffff, 10);
  return frame;
}

/**
 * The datagram to send for `payload`: its headers written into the `headroom` bytes before it
 * in the same buffer when there are 28 (no copy; see encodePacket's `headroom`), else a copy.
 */
export function frameWithHeaders(
  payload: Buffer,
  headroom: number,
  src: Ip,
  dst: Ip,
  srcPort: number,
  dstPort: number,
): Buffer {
  return headroom >= 28
    ? writeIpUdpHeaders(
        Buffer.from(payload.buffer, payload.byteOffset - 28, payload.length + 28),
        src,
        dst,
        srcPort,
        dstPort,
      )
    : buildIpUdp(src, dst, srcPort, dstPort, payload);
}

/** IPv4 + UDP + a copy of `payload` in a new buffer. */
export function buildIpUdp(
  src: Ip,
  dst: Ip,
  srcPort: number,
  dstPort: number,
  payload: Uint8Array,
  tos = 0,
): Buffer {
  const frame = Buffer.allocUnsafe(28 + payload.length);
  frame.set(payload, 28);
  return writeIpUdpHeaders(frame, src, dst, srcPort, dstPort, tos);
}
