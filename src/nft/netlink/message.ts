import { AttrMap, NetlinkDecodeError, align4 } from './attr.js';
import {
  NLMSGERR_ATTR_MSG,
  NLMSGERR_ATTR_OFFS,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NFNETLINK_V0,
} from './constants.js';

/** struct nlmsghdr plus the payload that follows it. */
export interface NetlinkMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  payload: Buffer;
}

export function encodeMessage(m: {
  type: number;
  flags: number;
  seq: number;
  pid?: number;
  payload: Buffer;
}): Buffer {
  const len = NLMSG_HDRLEN + m.payload.length;
  const out = Buffer.alloc(align4(len));
  out.writeUInt32LE(len, 0);
  out.writeUInt16LE(m.type, 4);
  out.writeUInt16LE(m.flags, 6);
  out.writeUInt32LE(m.seq >>> 0, 8);
  out.writeUInt32LE((m.pid ?? 0) >>> 0, 12);
  m.payload.copy(out, NLMSG_HDRLEN);
  return out;
}

/**
 * Splits one datagram into messages. A header whose length is shorter than a header or
 * longer than the datagram throws NetlinkDecodeError (the rest of the datagram is unusable).
 */
export function decodeMessages(buf: Buffer): NetlinkMessage[] {
  const out: NetlinkMessage[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > buf.length) {
      throw new NetlinkDecodeError(
        `netlink message at offset ${off} claims ${len} bytes but ${buf.length - off} remain`,
        {
          offset: off,
          len,
        },
      );
    }
    out.push({
      type: buf.readUInt16LE(off + 4),
      flags: buf.readUInt16LE(off + 6),
      seq: buf.readUInt32LE(off + 8),
      pid: buf.readUInt32LE(off + 12),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += align4(len);
  }
  return out;
}

/** struct nfgenmsg: family, version, resource id (big-endian: group, queue or subsystem). */
export interface NfGenMsg {
  family: number;
  version: number;
  resId: number;
}

export const NFGENMSG_LEN = 4;

export function encodeNfGen(family: number, resId = 0): Buffer {
  const b = Buffer.alloc(NFGENMSG_LEN);
  b.writeUInt8(family, 0);
  b.writeUInt8(NFNETLINK_V0, 1);
  b.writeUInt16BE(resId, 2);
  return b;
}

/** An nfnetlink payload: the nfgenmsg header followed by attributes. */
export function nfPayload(family: number, resId: number, attrs: readonly Buffer[]): Buffer {
  return Buffer.concat([encodeNfGen(family, resId), ...attrs]);
}

export function decodeNfPayload(payload: Buffer): { gen: NfGenMsg; attrs: AttrMap } {
  if (payload.length < NFGENMSG_LEN)
    throw new NetlinkDecodeError(`nfnetlink payload of ${payload.length} bytes has no nfgenmsg`);
  return {
    gen: { family: payload.readUInt8(0), version: payload.readUInt8(1), resId: payload.readUInt16BE(2) },
    attrs: AttrMap.parse(payload, NFGENMSG_LEN),
  };
}

/** A decoded NLMSG_ERROR: errno 0 is an ACK. */
export interface NetlinkAck {
  /** 0 for an ack, otherwise a positive errno. */
  errno: number;
  /** Header of the request this answers. */
  request: { type: number; flags: number; seq: number; pid: number };
  /** Extended ack (NETLINK_EXT_ACK): human message and the offset of the offending attribute. */
  extMessage?: string;
  extOffset?: number;
}

export function decodeAck(m: NetlinkMessage): NetlinkAck {
  if (m.type !== NLMSG_ERROR) throw new NetlinkDecodeError(`message type ${m.type} is not NLMSG_ERROR`);
  const p = m.payload;
  if (p.length < 4 + NLMSG_HDRLEN)
    throw new NetlinkDecodeError(`NLMSG_ERROR of ${p.length} bytes is truncated`);
  const error = p.readInt32LE(0);
  const reqLen = p.readUInt32LE(4);
  const ack: NetlinkAck = {
    errno: -error,
    request: {
      type: p.readUInt16LE(8),
      flags: p.readUInt16LE(10),
      seq: p.readUInt32LE(12),
      pid: p.readUInt32LE(16),
    },
  };
  if (m.flags & NLM_F_ACK_TLVS) {
    // An ack (error 0) or a capped error echoes only the request header; otherwise the whole
    // request comes back before the TLVs (netlink_ack() in net/netlink/af_netlink.c).
    // The echoed length is the kernel's u32: bound it by the payload before aligning, since
    // align4 works in 32-bit signed arithmetic (a length near 2^32 became a negative offset).
    const echoed =
      error === 0 || m.flags & NLM_F_CAPPED
        ? NLMSG_HDRLEN
        : align4(Math.max(Math.min(reqLen, p.length), NLMSG_HDRLEN));
    const start = 4 + echoed;
    if (reqLen <= p.length && start <= p.length) {
      const tlv = AttrMap.parse(p, start);
      const msg = tlv.str(NLMSGERR_ATTR_MSG);
      if (msg !== undefined) ack.extMessage = msg;
      const offs = tlv.raw(NLMSGERR_ATTR_OFFS);
      if (offs && offs.length >= 4) ack.extOffset = offs.readUInt32LE(0);
    }
  }
  return ack;
}

/** Encodes an NLMSG_ERROR (tests and fakes of the kernel side). */
export function encodeAck(a: NetlinkAck, opts: { pid?: number; capped?: boolean } = {}): Buffer {
  const tlvs: Buffer[] = [];
  if (a.extMessage !== undefined) {
    const s = Buffer.concat([Buffer.from(a.extMessage, 'utf8'), Buffer.alloc(1)]);
    const h = Buffer.alloc(align4(4 + s.length));
    h.writeUInt16LE(4 + s.length, 0);
    h.writeUInt16LE(NLMSGERR_ATTR_MSG, 2);
    s.copy(h, 4);
    tlvs.push(h);
  }
  if (a.extOffset !== undefined) {
    const h = Buffer.alloc(8);
    h.writeUInt16LE(8, 0);
    h.writeUInt16LE(NLMSGERR_ATTR_OFFS, 2);
    h.writeUInt32LE(a.extOffset, 4);
    tlvs.push(h);
  }
  const head = Buffer.alloc(4 + NLMSG_HDRLEN);
  head.writeInt32LE(-a.errno, 0);
  head.writeUInt32LE(NLMSG_HDRLEN, 4);
  head.writeUInt16LE(a.request.type, 8);
  head.writeUInt16LE(a.request.flags, 10);
  head.writeUInt32LE(a.request.seq, 12);
  head.writeUInt32LE(a.request.pid, 16);
  let flags = 0;
  if (tlvs.length > 0) flags |= NLM_F_ACK_TLVS;
  if (opts.capped ?? true) flags |= NLM_F_CAPPED;
  return encodeMessage({
    type: NLMSG_ERROR,
    flags,
    seq: a.request.seq,
    pid: opts.pid ?? 0,
    payload: Buffer.concat([head, ...tlvs]),
  });
}
