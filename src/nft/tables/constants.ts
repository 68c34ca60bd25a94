/**
 * nf_tables ABI numbers (include/uapi/linux/netfilter/nf_tables.h and netfilter.h). Only what
 * the Gatehouse ruleset, the LLDP netdev rule and the listings need.
 */
export const NFT_MSG = {
  NEWTABLE: 0,
  GETTABLE: 1,
  DELTABLE: 2,
  NEWCHAIN: 3,
  GETCHAIN: 4,
  DELCHAIN: 5,
  NEWRULE: 6,
  GETRULE: 7,
  DELRULE: 8,
  NEWSET: 9,
  GETSET: 10,
  DELSET: 11,
  NEWSETELEM: 12,
  GETSETELEM: 13,
  DELSETELEM: 14,
  NEWGEN: 15,
  GETGEN: 16,
} as const;

export const NFTA_LIST_ELEM = 1;

export const NFTA_TABLE = { NAME: 1, FLAGS: 2, USE: 3, HANDLE: 4 } as const;
export const NFTA_CHAIN = {
  TABLE: 1,
  HANDLE: 2,
  NAME: 3,
  HOOK: 4,
  POLICY: 5,
  USE: 6,
  TYPE: 7,
  COUNTERS: 8,
  FLAGS: 10,
} as const;
export const NFTA_HOOK = { HOOKNUM: 1, PRIORITY: 2, DEV: 3 } as const;
export const NFTA_RULE = { TABLE: 1, CHAIN: 2, HANDLE: 3, EXPRESSIONS: 4, POSITION: 6, USERDATA: 7 } as const;
export const NFTA_SET = {
  TABLE: 1,
  NAME: 2,
  FLAGS: 3,
  KEY_TYPE: 4,
  KEY_LEN: 5,
  DATA_TYPE: 6,
  DATA_LEN: 7,
  POLICY: 8,
  DESC: 9,
  ID: 10,
  USERDATA: 13,
  HANDLE: 16,
} as const;
export const NFTA_SET_ELEM = { KEY: 1, DATA: 2, FLAGS: 3 } as const;
export const NFTA_SET_ELEM_LIST = { TABLE: 1, SET: 2, ELEMENTS: 3, SET_ID: 4 } as const;
export const NFTA_DATA = { VALUE: 1, VERDICT: 2 } as const;
export const NFTA_VERDICT = { CODE: 1, CHAIN: 2 } as const;
export const NFTA_EXPR = { NAME: 1, DATA: 2 } as const;

export const NFTA_IMMEDIATE = { DREG: 1, DATA: 2 } as const;
export const NFTA_BITWISE = { SREG: 1, DREG: 2, LEN: 3, MASK: 4, XOR: 5, OP: 6 } as const;
export const NFTA_CMP = { SREG: 1, OP: 2, DATA: 3 } as const;
export const NFTA_LOOKUP = { SET: 1, SREG: 2, DREG: 3, SET_ID: 4, FLAGS: 5 } as const;
export const NFTA_PAYLOAD = { DREG: 1, BASE: 2, OFFSET: 3, LEN: 4 } as const;
export const NFTA_META = { DREG: 1, KEY: 2, SREG: 3 } as const;
export const NFTA_CT = { DREG: 1, KEY: 2, DIRECTION: 3 } as const;
export const NFTA_LOG = { GROUP: 1, PREFIX: 2, SNAPLEN: 3, QTHRESHOLD: 4, LEVEL: 5, FLAGS: 6 } as const;
export const NFTA_MASQ = { FLAGS: 1 } as const;
export const NFTA_COUNTER = { BYTES: 1, PACKETS: 2 } as const;

export const NFT_LOOKUP_F_INV = 1;

/** Registers: 0 is the verdict register, 1–4 the 16-byte data registers. */
export const NFT_REG_VERDICT = 0;
export const NFT_REG_1 = 1;

/** Verdicts (NF_DROP/NF_ACCEPT from netfilter.h, the rest nf_tables' own negative codes). */
export const VERDICT = {
  drop: 0,
  accept: 1,
  continue: -1,
  break: -2,
  jump: -3,
  goto: -4,
  return: -5,
} as const;
export type VerdictName = keyof typeof VERDICT;

export const CMP_OPS = ['eq', 'neq', 'lt', 'lte', 'gt', 'gte'] as const;
export type CmpOp = (typeof CMP_OPS)[number];

export const PAYLOAD_BASES = ['link', 'network', 'transport', 'inner'] as const;
export type PayloadBase = (typeof PAYLOAD_BASES)[number];

/** enum nft_meta_keys, indexed by value (names as libnftnl prints them). */
export const META_KEYS = [
  'len',
  'protocol',
  'priority',
  'mark',
  'iif',
  'oif',
  'iifname',
  'oifname',
  'iiftype',
  'oiftype',
  'skuid',
  'skgid',
  'nftrace',
  'rtclassid',
  'secmark',
  'nfproto',
  'l4proto',
  'bri_iifname',
  'bri_oifname',
  'pkttype',
  'cpu',
  'iifgroup',
  'oifgroup',
  'cgroup',
  'prandom',
] as const;
export type MetaKey = (typeof META_KEYS)[number];

/** enum nft_ct_keys, indexed by value. */
export const CT_KEYS = [
  'state',
  'direction',
  'status',
  'mark',
  'secmark',
  'expiration',
  'helper',
  'l3protocol',
  'src',
  'dst',
  'protocol',
  'proto_src',
  'proto_dst',
  'label',
  'packets',
  'bytes',
  'avgpkt',
  'zone',
  'event',
] as const;
export type CtKey = (typeof CT_KEYS)[number];

/** Conntrack state bits as `ct state` matches them (NF_CT_STATE_BIT). */
export const CT_STATE = { invalid: 1, established: 2, related: 4, new: 8, untracked: 64 } as const;

/** Netfilter hooks (NF_INET_*; netdev ingress is 0). */
export const HOOK = { prerouting: 0, input: 1, forward: 2, output: 3, postrouting: 4, ingress: 0 } as const;
export type HookName = keyof typeof HOOK;

/** nft datatypes used as set key types (nftables src/datatype.h). */
export const NFT_TYPE = { ipv4_addr: 7, inet_proto: 12, inet_service: 13, ifname: 41 } as const;

export const NFT_SET_F = { anonymous: 0x1, constant: 0x2, interval: 0x4, map: 0x8, timeout: 0x10 } as const;

export const FAMILY_NAMES: Record<number, string> = {
  1: 'inet',
  2: 'ip',
  3: 'arp',
  5: 'netdev',
  7: 'bridge',
  10: 'ip6',
};
export const FAMILIES = { inet: 1, ip: 2, arp: 3, netdev: 5, bridge: 7, ip6: 10 } as const;
export type FamilyName = keyof typeof FAMILIES;

/** IP protocol numbers. */
export const IPPROTO = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58 } as const;
