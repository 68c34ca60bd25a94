/**
 * Kernel ABI numbers of netlink and nfnetlink (include/uapi/linux/netlink.h,
 * include/uapi/linux/netfilter/nfnetlink.h). Only what Gatehouse uses.
 */
export const NETLINK_NETFILTER = 12;

export const NLMSG_HDRLEN = 16;
export const NLA_HDRLEN = 4;
/** Attribute type bits: NLA_F_NESTED marks a nested attribute, NLA_F_NET_BYTEORDER a big-endian one. */
export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
export const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;

export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_ECHO = 0x8;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_APPEND = 0x800;
/** Flags of an NLMSG_ERROR message (netlink.h): the echoed request is capped / TLVs follow. */
export const NLM_F_CAPPED = 0x100;
export const NLM_F_ACK_TLVS = 0x200;

/** Extended ack TLVs after struct nlmsgerr (enum nlmsgerr_attrs). */
export const NLMSGERR_ATTR_MSG = 1;
export const NLMSGERR_ATTR_OFFS = 2;

/** nfnetlink subsystems (high byte of the message type). */
export const NFNL_SUBSYS_CTNETLINK = 1;
export const NFNL_SUBSYS_ULOG = 4;
export const NFNL_SUBSYS_NFTABLES = 10;

/** Batch framing messages; their nfgenmsg resource id names the subsystem (big-endian). */
export const NFNL_MSG_BATCH_BEGIN = 0x10;
export const NFNL_MSG_BATCH_END = 0x11;

export const NFNETLINK_V0 = 0;

/** Protocol families as nfgenmsg.nfgen_family (NFPROTO_*). */
export const NFPROTO_UNSPEC = 0;
export const NFPROTO_INET = 1;
export const NFPROTO_IPV4 = 2;
export const NFPROTO_NETDEV = 5;
export const NFPROTO_BRIDGE = 7;
export const NFPROTO_IPV6 = 10;

export function nfnlType(subsys: number, msg: number): number {
  return ((subsys & 0xff) << 8) | (msg & 0xff);
}
