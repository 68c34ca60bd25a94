import { NetlinkDecodeError, attr, attrBe16, attrBe32 } from '../netlink/attr.js';
import { NFNL_SUBSYS_ULOG, NFPROTO_UNSPEC, nfnlType } from '../netlink/constants.js';
import { type NetlinkMessage, decodeNfPayload, nfPayload } from '../netlink/message.js';
import type { OutgoingMessage } from '../netlink/socket.js';

/**
 * nfnetlink_log (include/uapi/linux/netfilter/nfnetlink_log.h): packets that an nft `log group
 * N` statement copies to userspace. A socket binds group N with NFULNL_MSG_CONFIG (resource
 * id = group), then receives NFULNL_MSG_PACKET messages carrying the packet and its metadata.
 */
export const NFULNL_MSG = { PACKET: 0, CONFIG: 1 } as const;
const NFULA = {
  PACKET_HDR: 1,
  MARK: 2,
  TIMESTAMP: 3,
  IFINDEX_INDEV: 4,
  IFINDEX_OUTDEV: 5,
  IFINDEX_PHYSINDEV: 6,
  IFINDEX_PHYSOUTDEV: 7,
  HWADDR: 8,
  PAYLOAD: 9,
  PREFIX: 10,
  UID: 11,
  SEQ: 12,
  SEQ_GLOBAL: 13,
  GID: 14,
  HWTYPE: 15,
  HWHEADER: 16,
  HWLEN: 17,
} as const;
const NFULA_CFG = { CMD: 1, MODE: 2, NLBUFSIZ: 3, TIMEOUT: 4, QTHRESH: 5, FLAGS: 6 } as const;
const NFULNL_CFG_CMD = { BIND: 1, UNBIND: 2 } as const;
export const NFULNL_COPY = { NONE: 0, META: 1, PACKET: 2 } as const;

export interface NflogPacket {
  /** The log group (nfgenmsg resource id). */
  group: number;
  /** nfgenmsg family: 2 ip, 10 ip6, 5 netdev, 7 bridge… */
  family: number;
  /** Ethertype of the packet (NFULA_PACKET_HDR.hw_protocol). */
  hwProtocol: number;
  hook: number;
  /** The `log prefix` text; empty when the rule set none. */
  prefix: string;
  /** Input interface index (NFULA_IFINDEX_INDEV); undefined on output hooks. */
  ifindex?: number;
  outdev?: number;
  /** Link-layer source address (NFULA_HWADDR). */
  hwaddr?: Buffer;
  hwtype?: number;
  /** The link-layer header (for Ethernet: dst MAC, src MAC, ethertype). */
  hwheader?: Buffer;
  /** The packet from the network header on (netdev family: after the Ethernet header). */
  payload: Buffer;
  mark?: number;
  uid?: number;
  gid?: number;
  /** Kernel timestamp in microseconds since the epoch, when the kernel sent one. */
  timestampUs?: bigint;
}

const ulog = (msg: number) => nfnlType(NFNL_SUBSYS_ULOG, msg);

function cfgMessage(group: number, attrs: Buffer[], describe: string): OutgoingMessage {
  return {
    type: ulog(NFULNL_MSG.CONFIG),
    flags: 0,
    payload: nfPayload(NFPROTO_UNSPEC, group, attrs),
    describe,
  };
}

export function bindGroup(group: number): OutgoingMessage {
  return cfgMessage(
    group,
    [attr(NFULA_CFG.CMD, Buffer.from([NFULNL_CFG_CMD.BIND]))],
    `nflog bind group ${group}`,
  );
}

export function unbindGroup(group: number): OutgoingMessage {
  return cfgMessage(
    group,
    [attr(NFULA_CFG.CMD, Buffer.from([NFULNL_CFG_CMD.UNBIND]))],
    `nflog unbind group ${group}`,
  );
}

/** struct nfulnl_msg_config_mode { __be32 copy_range; __u8 copy_mode; __u8 _pad; } (packed, 6 bytes). */
export function setCopyMode(group: number, mode: number, range: number): OutgoingMessage {
  const b = Buffer.alloc(6);
  b.writeUInt32BE(range >>> 0, 0);
  b.writeUInt8(mode, 4);
  return cfgMessage(group, [attr(NFULA_CFG.MODE, b)], `nflog copy mode group ${group}`);
}

/**
 * Queue threshold and flush timeout (1/100 s). The kernel batches up to 100 packets or 1 s by
 * default; a threshold of 1 delivers every packet at once.
 */
export function setQueueing(group: number, qthresh: number, timeoutCs: number): OutgoingMessage {
  return cfgMessage(
    group,
    [attrBe32(NFULA_CFG.QTHRESH, qthresh), attrBe32(NFULA_CFG.TIMEOUT, timeoutCs)],
    `nflog queueing group ${group}`,
  );
}

export function decodeNflogPacket(m: NetlinkMessage): NflogPacket {
  if (m.type !== ulog(NFULNL_MSG.PACKET))
    throw new NetlinkDecodeError(`not an nflog packet (type 0x${m.type.toString(16)})`);
  const { gen, attrs } = decodeNfPayload(m.payload);
  const hdr = attrs.raw(NFULA.PACKET_HDR);
  if (!hdr || hdr.length < 4) throw new NetlinkDecodeError('nflog packet without NFULA_PACKET_HDR');
  const p: NflogPacket = {
    group: gen.resId,
    family: gen.family,
    hwProtocol: hdr.readUInt16BE(0),
    hook: hdr.readUInt8(2),
    prefix: attrs.str(NFULA.PREFIX) ?? '',
    payload: Buffer.from(attrs.raw(NFULA.PAYLOAD) ?? Buffer.alloc(0)),
  };
  const indev = attrs.be32(NFULA.IFINDEX_INDEV);
  if (indev !== undefined) p.ifindex = indev;
  const outdev = attrs.be32(NFULA.IFINDEX_OUTDEV);
  if (outdev !== undefined) p.outdev = outdev;
  const hw = attrs.raw(NFULA.HWADDR);
  if (hw && hw.length >= 4) {
    const len = Math.min(hw.readUInt16BE(0), hw.length - 4, 8);
    p.hwaddr = Buffer.from(hw.subarray(4, 4 + len));
  }
  const hwtype = attrs.be16(NFULA.HWTYPE);
  if (hwtype !== undefined) p.hwtype = hwtype;
  const hwheader = attrs.raw(NFULA.HWHEADER);
  if (hwheader) p.hwheader = Buffer.from(hwheader);
  const mark = attrs.be32(NFULA.MARK);
  if (mark !== undefined) p.mark = mark;
  const uid = attrs.be32(NFULA.UID);
  if (uid !== undefined) p.uid = uid;
  const gid = attrs.be32(NFULA.GID);
  if (gid !== undefined) p.gid = gid;
  const ts = attrs.raw(NFULA.TIMESTAMP);
  if (ts && ts.length >= 16) p.timestampUs = ts.readBigUInt64BE(0) * 1_000_000n + ts.readBigUInt64BE(8);
  return p;
}

/** The kernel's side (fake kernels in tests, round-trip properties). */
export function encodeNflogPacket(p: NflogPacket): { type: number; flags: number; payload: Buffer } {
  const hdr = Buffer.alloc(4);
  hdr.writeUInt16BE(p.hwProtocol, 0);
  hdr.writeUInt8(p.hook, 2);
  const attrs = [attr(NFULA.PACKET_HDR, hdr)];
  if (p.mark !== undefined) attrs.push(attrBe32(NFULA.MARK, p.mark));
  if (p.timestampUs !== undefined) {
    const t = Buffer.alloc(16);
    t.writeBigUInt64BE(p.timestampUs / 1_000_000n, 0);
    t.writeBigUInt64BE(p.timestampUs % 1_000_000n, 8);
    attrs.push(attr(NFULA.TIMESTAMP, t));
  }
  if (p.ifindex !== undefined) attrs.push(attrBe32(NFULA.IFINDEX_INDEV, p.ifindex));
  if (p.outdev !== undefined) attrs.push(attrBe32(NFULA.IFINDEX_OUTDEV, p.outdev));
  if (p.hwaddr !== undefined) {
    const h = Buffer.alloc(12);
    h.writeUInt16BE(p.hwaddr.length, 0);
    p.hwaddr.copy(h, 4, 0, 8);
    attrs.push(attr(NFULA.HWADDR, h));
  }
  if (p.hwtype !== undefined) attrs.push(attrBe16(NFULA.HWTYPE, p.hwtype));
  if (p.hwheader !== undefined) {
    attrs.push(attr(NFULA.HWHEADER, p.hwheader));
    attrs.push(attrBe16(NFULA.HWLEN, p.hwheader.length));
  }
  attrs.push(attr(NFULA.PAYLOAD, p.payload));
  attrs.push(attr(NFULA.PREFIX, Buffer.concat([Buffer.from(p.prefix, 'utf8'), Buffer.alloc(1)])));
  if (p.uid !== undefined) attrs.push(attrBe32(NFULA.UID, p.uid));
  if (p.gid !== undefined) attrs.push(attrBe32(NFULA.GID, p.gid));
  return { type: ulog(NFULNL_MSG.PACKET), flags: 0, payload: nfPayload(p.family, p.group, attrs) };
}
