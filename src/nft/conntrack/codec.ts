import { type AttrMap, NetlinkDecodeError, attr, attrBe16, attrBe32, attrU8, nest } from '../netlink/attr.js';
import {
  NFNL_SUBSYS_CTNETLINK,
  NFPROTO_IPV4,
  NFPROTO_IPV6,
  NLM_F_CREATE,
  NLM_F_EXCL,
  nfnlType,
} from '../netlink/constants.js';
import { type NetlinkMessage, decodeNfPayload, nfPayload } from '../netlink/message.js';
import type { OutgoingMessage } from '../netlink/socket.js';

/**
 * ctnetlink (include/uapi/linux/netfilter/nfnetlink_conntrack.h): conntrack events and dumps.
 * A connection has an original and a reply tuple; with NAT the reply tuple is not the inverse
 * of the original (masquerade rewrites its destination to the uplink address).
 */
export const IPCTNL_MSG = { NEW: 0, GET: 1, DELETE: 2 } as const;
/** Multicast groups (NFNLGRP_CONNTRACK_*). */
export const CT_GROUP = { NEW: 1, UPDATE: 2, DESTROY: 3 } as const;

const CTA = {
  TUPLE_ORIG: 1,
  TUPLE_REPLY: 2,
  STATUS: 3,
  PROTOINFO: 4,
  TIMEOUT: 7,
  MARK: 8,
  ID: 12,
  ZONE: 18,
} as const;
const CTA_TUPLE = { IP: 1, PROTO: 2 } as const;
const CTA_IP = { V4_SRC: 1, V4_DST: 2, V6_SRC: 3, V6_DST: 4 } as const;
const CTA_PROTO = {
  NUM: 1,
  SRC_PORT: 2,
  DST_PORT: 3,
  ICMP_ID: 4,
  ICMP_TYPE: 5,
  ICMP_CODE: 6,
  ICMPV6_ID: 7,
  ICMPV6_TYPE: 8,
  ICMPV6_CODE: 9,
} as const;
const CTA_PROTOINFO_TCP = 1;
const CTA_PROTOINFO_TCP_STATE = 1;

/** enum ip_conntrack_status bits. */
export const IPS = {
  SEEN_REPLY: 1 << 1,
  ASSURED: 1 << 2,
  CONFIRMED: 1 << 3,
  SRC_NAT: 1 << 4,
  DST_NAT: 1 << 5,
} as const;

/** TCP conntrack states as conntrack(8) prints them (enum tcp_conntrack). */
export const TCP_STATES = [
  'NONE',
  'SYN_SENT',
  'SYN_RECV',
  'ESTABLISHED',
  'FIN_WAIT',
  'CLOSE_WAIT',
  'LAST_ACK',
  'TIME_WAIT',
  'CLOSE',
  'SYN_SENT2',
];

export interface CtTuple {
  src: string;
  dst: string;
  proto: number;
  sport?: number;
  dport?: number;
  icmpType?: number;
  icmpCode?: number;
  icmpId?: number;
}

export interface CtEntry {
  /** `new` for NEW events, `update`, `destroy`; dump entries are `dump`. */
  kind: 'new' | 'update' | 'destroy' | 'dump';
  family: number;
  orig: CtTuple;
  reply: CtTuple;
  status: number;
  id?: number;
  timeout?: number;
  tcpState?: number;
  mark?: number;
  zone?: number;
}

function ipString(b: Buffer): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length === 16) {
    const words: string[] = [];
    for (let i = 0; i < 16; i += 2) words.push(b.readUInt16BE(i).toString(16));
    return compressV6(words);
  }
  throw new NetlinkDecodeError(`address of ${b.length} bytes`);
}

/** RFC 5952 text form: longest run of zero words (≥ 2) becomes `::`. */
function compressV6(words: string[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return words.join(':');
  return `${words.slice(0, best).join(':')}::${words.slice(best + bestLen).join(':')}`;
}

export function ipBytes(ip: string): Buffer {
  if (ip.includes(':')) {
    const [head, tail] = ip.split('::') as [string, string | undefined];
    const h = head ? head.split(':') : [];
    const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
    const fill = tail === undefined ? [] : new Array(8 - h.length - t.length).fill('0');
    const words = [...h, ...fill, ...t];
    if (words.length !== 8) throw new NetlinkDecodeError(`bad IPv6 address ${ip}`);
    const b = Buffer.alloc(16);
    for (let i = 0; i < 8; i++) b.writeUInt16BE(Number.parseInt(words[i]!, 16), i * 2);
    return b;
  }
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255))
    throw new NetlinkDecodeError(`bad IPv4 address ${ip}`);
  return Buffer.from(parts);
}

function decodeTuple(a: AttrMap | undefined, what: string): CtTuple {
  if (!a) throw new NetlinkDecodeError(`conntrack entry without ${what} tuple`);
  const ip = a.nested(CTA_TUPLE.IP);
  const proto = a.nested(CTA_TUPLE.PROTO);
  if (!ip || !proto) throw new NetlinkDecodeError(`${what} tuple lacks addresses or protocol`);
  const src = ip.raw(CTA_IP.V4_SRC) ?? ip.raw(CTA_IP.V6_SRC);
  const dst = ip.raw(CTA_IP.V4_DST) ?? ip.raw(CTA_IP.V6_DST);
  const num = proto.u8(CTA_PROTO.NUM);
  if (!src || !dst || num === undefined) throw new NetlinkDecodeError(`${what} tuple is incomplete`);
  const t: CtTuple = { src: ipString(src), dst: ipString(dst), proto: num };
  const sport = proto.be16(CTA_PROTO.SRC_PORT);
  if (sport !== undefined) t.sport = sport;
  const dport = proto.be16(CTA_PROTO.DST_PORT);
  if (dport !== undefined) t.dport = dport;
  const icmpId = proto.be16(CTA_PROTO.ICMP_ID) ?? proto.be16(CTA_PROTO.ICMPV6_ID);
  if (icmpId !== undefined) t.icmpId = icmpId;
  const icmpType = proto.u8(CTA_PROTO.ICMP_TYPE) ?? proto.u8(CTA_PROTO.ICMPV6_TYPE);
  if (icmpType !== undefined) t.icmpType = icmpType;
  const icmpCode = proto.u8(CTA_PROTO.ICMP_CODE) ?? proto.u8(CTA_PROTO.ICMPV6_CODE);
  if (icmpCode !== undefined) t.icmpCode = icmpCode;
  return t;
}

/** Decodes a ctnetlink NEW/DELETE message (event or dump entry). */
export function decodeCtMessage(m: NetlinkMessage, fromDump = false): CtEntry {
  const sub = m.type >> 8;
  const msg = m.type & 0xff;
  if (sub !== NFNL_SUBSYS_CTNETLINK || (msg !== IPCTNL_MSG.NEW && msg !== IPCTNL_MSG.DELETE)) {
    throw new NetlinkDecodeError(`not a ctnetlink entry (type 0x${m.type.toString(16)})`);
  }
  const { gen, attrs } = decodeNfPayload(m.payload);
  const kind: CtEntry['kind'] = fromDump
    ? 'dump'
    : msg === IPCTNL_MSG.DELETE
      ? 'destroy'
      : m.flags & (NLM_F_CREATE | NLM_F_EXCL)
        ? 'new'
        : 'update';
  const e: CtEntry = {
    kind,
    family: gen.family,
    orig: decodeTuple(attrs.nested(CTA.TUPLE_ORIG), 'original'),
    reply: decodeTuple(attrs.nested(CTA.TUPLE_REPLY), 'reply'),
    status: attrs.be32(CTA.STATUS) ?? 0,
  };
  const id = attrs.be32(CTA.ID);
  if (id !== undefined) e.id = id;
  const timeout = attrs.be32(CTA.TIMEOUT);
  if (timeout !== undefined) e.timeout = timeout;
  const tcp = attrs.nested(CTA.PROTOINFO)?.nested(CTA_PROTOINFO_TCP)?.u8(CTA_PROTOINFO_TCP_STATE);
  if (tcp !== undefined) e.tcpState = tcp;
  const mark = attrs.be32(CTA.MARK);
  if (mark !== undefined) e.mark = mark;
  const zone = attrs.be16(CTA.ZONE);
  if (zone !== undefined) e.zone = zone;
  return e;
}

function encodeTuple(type: number, t: CtTuple): Buffer {
  const v6 = t.src.includes(':');
  const ip = nest(CTA_TUPLE.IP, [
    attr(v6 ? CTA_IP.V6_SRC : CTA_IP.V4_SRC, ipBytes(t.src)),
    attr(v6 ? CTA_IP.V6_DST : CTA_IP.V4_DST, ipBytes(t.dst)),
  ]);
  const p = [attrU8(CTA_PROTO.NUM, t.proto)];
  if (t.sport !== undefined) p.push(attrBe16(CTA_PROTO.SRC_PORT, t.sport));
  if (t.dport !== undefined) p.push(attrBe16(CTA_PROTO.DST_PORT, t.dport));
  if (t.icmpId !== undefined) p.push(attrBe16(v6 ? CTA_PROTO.ICMPV6_ID : CTA_PROTO.ICMP_ID, t.icmpId));
  if (t.icmpType !== undefined) p.push(attrU8(v6 ? CTA_PROTO.ICMPV6_TYPE : CTA_PROTO.ICMP_TYPE, t.icmpType));
  if (t.icmpCode !== undefined) p.push(attrU8(v6 ? CTA_PROTO.ICMPV6_CODE : CTA_PROTO.ICMP_CODE, t.icmpCode));
  return nest(type, [ip, nest(CTA_TUPLE.PROTO, p)]);
}

/** The kernel's side of an event or dump entry (fake kernels in tests, round-trip properties). */
export function encodeCtEntry(e: CtEntry): { type: number; flags: number; payload: Buffer } {
  const attrs = [
    encodeTuple(CTA.TUPLE_ORIG, e.orig),
    encodeTuple(CTA.TUPLE_REPLY, e.reply),
    attrBe32(CTA.STATUS, e.status),
  ];
  if (e.timeout !== undefined) attrs.push(attrBe32(CTA.TIMEOUT, e.timeout));
  if (e.tcpState !== undefined)
    attrs.push(nest(CTA.PROTOINFO, [nest(CTA_PROTOINFO_TCP, [attrU8(CTA_PROTOINFO_TCP_STATE, e.tcpState)])]));
  if (e.mark !== undefined) attrs.push(attrBe32(CTA.MARK, e.mark));
  if (e.id !== undefined) attrs.push(attrBe32(CTA.ID, e.id));
  if (e.zone !== undefined) attrs.push(attrBe16(CTA.ZONE, e.zone));
  const msg = e.kind === 'destroy' ? IPCTNL_MSG.DELETE : IPCTNL_MSG.NEW;
  const flags = e.kind === 'new' ? NLM_F_CREATE | NLM_F_EXCL : 0;
  return { type: nfnlType(NFNL_SUBSYS_CTNETLINK, msg), flags, payload: nfPayload(e.family, 0, attrs) };
}

/** IPCTNL_MSG_CT_GET with NLM_F_DUMP: every entry of one family. */
export function conntrackDumpRequest(family: number = NFPROTO_IPV4): OutgoingMessage {
  return {
    type: nfnlType(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG.GET),
    flags: 0,
    payload: nfPayload(family, 0, []),
    describe: 'conntrack dump',
  };
}

function isInverse(a: CtTuple, b: CtTuple): boolean {
  return a.src === b.dst && a.dst === b.src && a.sport === b.dport && a.dport === b.sport;
}

/** `conntrack -j`: any NAT — a NAT status bit, or a reply tuple that is not the inverse of the original. */
export function isNatted(e: CtEntry): boolean {
  return (e.status & (IPS.SRC_NAT | IPS.DST_NAT)) !== 0 || !isInverse(e.orig, e.reply);
}

export const CT_FAMILIES = { ipv4: NFPROTO_IPV4, ipv6: NFPROTO_IPV6 } as const;
