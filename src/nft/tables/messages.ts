import { AttrMap, NetlinkDecodeError, attr, attrBe32, attrBe32s, attrStr, nest } from '../netlink/attr.js';
import {
  NFNL_SUBSYS_NFTABLES,
  NLM_F_APPEND,
  NLM_F_CREATE,
  NLM_F_EXCL,
  nfnlType,
} from '../netlink/constants.js';
import { type NetlinkMessage, decodeNfPayload, nfPayload } from '../netlink/message.js';
import type { OutgoingMessage } from '../netlink/socket.js';
import {
  FAMILY_NAMES,
  HOOK,
  type HookName,
  NFTA_CHAIN,
  NFTA_DATA,
  NFTA_HOOK,
  NFTA_LIST_ELEM,
  NFTA_RULE,
  NFTA_SET,
  NFTA_SET_ELEM,
  NFTA_SET_ELEM_LIST,
  NFTA_TABLE,
  NFT_MSG,
  VERDICT,
} from './constants.js';
import { type Expr, decodeExprList, encodeExprList } from './expr.js';

/** Typed nf_tables objects: what Gatehouse creates and what listings return. */
export interface NftTable {
  family: number;
  name: string;
  flags?: number;
  handle?: bigint;
  use?: number;
}

export interface NftChain {
  family: number;
  table: string;
  name: string;
  /** Base chains only: the hook, priority and (netdev) device. */
  hook?: { hook: HookName; priority: number; device?: string };
  type?: 'filter' | 'nat' | 'route';
  policy?: 'accept' | 'drop';
  handle?: bigint;
}

export interface NftRule {
  family: number;
  table: string;
  chain: string;
  exprs: Expr[];
  handle?: bigint;
}

export interface NftSet {
  family: number;
  table: string;
  name: string;
  /** Batch-local id so rules of the same batch can reference a set created in it. */
  id?: number;
  flags: number;
  keyType: number;
  keyLen: number;
  handle?: bigint;
}

export interface NftSetElements {
  family: number;
  table: string;
  set: string;
  setId?: number;
  /** Keys in packet order (an IPv4 address is 4 bytes). */
  keys: Buffer[];
}

const nft = (msg: number) => nfnlType(NFNL_SUBSYS_NFTABLES, msg);
const familyName = (f: number) => FAMILY_NAMES[f] ?? `family${f}`;

/**
 * set userdata as nft writes it (NFTNL_UDATA_SET_KEYBYTEORDER = big endian), so `nft list`
 * prints the keys the way it prints sets it created itself.
 */
const SET_USERDATA_BIG_ENDIAN_KEYS = Buffer.from([0, 4, 2, 0, 0, 0]);

export function newTable(t: NftTable, opts: { exclusive?: boolean } = {}): OutgoingMessage {
  const attrs = [attrStr(NFTA_TABLE.NAME, t.name)];
  if (t.flags !== undefined) attrs.push(attrBe32(NFTA_TABLE.FLAGS, t.flags));
  return {
    type: nft(NFT_MSG.NEWTABLE),
    flags: NLM_F_CREATE | (opts.exclusive ? NLM_F_EXCL : 0),
    payload: nfPayload(t.family, 0, attrs),
    describe: `add table ${familyName(t.family)} ${t.name}`,
  };
}

export function delTable(family: number, name: string): OutgoingMessage {
  return {
    type: nft(NFT_MSG.DELTABLE),
    flags: 0,
    payload: nfPayload(family, 0, [attrStr(NFTA_TABLE.NAME, name)]),
    describe: `delete table ${familyName(family)} ${name}`,
  };
}

export function newChain(c: NftChain): OutgoingMessage {
  const attrs = [attrStr(NFTA_CHAIN.TABLE, c.table), attrStr(NFTA_CHAIN.NAME, c.name)];
  if (c.type) attrs.push(attrStr(NFTA_CHAIN.TYPE, c.type));
  if (c.hook) {
    const h = [
      attrBe32(NFTA_HOOK.HOOKNUM, HOOK[c.hook.hook]),
      attrBe32s(NFTA_HOOK.PRIORITY, c.hook.priority),
    ];
    if (c.hook.device !== undefined) h.push(attrStr(NFTA_HOOK.DEV, c.hook.device));
    attrs.push(nest(NFTA_CHAIN.HOOK, h));
  }
  if (c.policy) attrs.push(attrBe32(NFTA_CHAIN.POLICY, VERDICT[c.policy]));
  return {
    type: nft(NFT_MSG.NEWCHAIN),
    flags: NLM_F_CREATE,
    payload: nfPayload(c.family, 0, attrs),
    describe: `add chain ${familyName(c.family)} ${c.table} ${c.name}`,
  };
}

export function newRule(r: NftRule, what?: string): OutgoingMessage {
  return {
    type: nft(NFT_MSG.NEWRULE),
    flags: NLM_F_CREATE | NLM_F_APPEND,
    payload: nfPayload(r.family, 0, [
      attrStr(NFTA_RULE.TABLE, r.table),
      attrStr(NFTA_RULE.CHAIN, r.chain),
      encodeExprList(NFTA_RULE.EXPRESSIONS, r.exprs),
    ]),
    describe: `add rule ${familyName(r.family)} ${r.table} ${r.chain}${what ? ` (${what})` : ''}`,
  };
}

export function newSet(s: NftSet): OutgoingMessage {
  const attrs = [
    attrStr(NFTA_SET.TABLE, s.table),
    attrStr(NFTA_SET.NAME, s.name),
    attrBe32(NFTA_SET.FLAGS, s.flags),
    attrBe32(NFTA_SET.KEY_TYPE, s.keyType),
    attrBe32(NFTA_SET.KEY_LEN, s.keyLen),
  ];
  if (s.id !== undefined) attrs.push(attrBe32(NFTA_SET.ID, s.id));
  attrs.push(attr(NFTA_SET.USERDATA, SET_USERDATA_BIG_ENDIAN_KEYS));
  return {
    type: nft(NFT_MSG.NEWSET),
    flags: NLM_F_CREATE,
    payload: nfPayload(s.family, 0, attrs),
    describe: `add set ${familyName(s.family)} ${s.table} ${s.name}`,
  };
}

function elementList(e: NftSetElements): Buffer[] {
  const attrs = [attrStr(NFTA_SET_ELEM_LIST.TABLE, e.table), attrStr(NFTA_SET_ELEM_LIST.SET, e.set)];
  if (e.setId !== undefined) attrs.push(attrBe32(NFTA_SET_ELEM_LIST.SET_ID, e.setId));
  return attrs;
}

/** Most keys per NEWSETELEM message; bigger sets are split over several messages of one batch. */
export const MAX_ELEMENTS_PER_MESSAGE = 512;

/** NEWSETELEM messages adding `keys` (several when there are many; they stay in one batch). */
export function newSetElements(e: NftSetElements): OutgoingMessage[] {
  const out: OutgoingMessage[] = [];
  for (let i = 0; i < e.keys.length; i += MAX_ELEMENTS_PER_MESSAGE) {
    const chunk = e.keys.slice(i, i + MAX_ELEMENTS_PER_MESSAGE);
    const elems = chunk.map((k) =>
      nest(NFTA_LIST_ELEM, [nest(NFTA_SET_ELEM.KEY, [attr(NFTA_DATA.VALUE, k)])]),
    );
    out.push({
      type: nft(NFT_MSG.NEWSETELEM),
      flags: NLM_F_CREATE,
      payload: nfPayload(e.family, 0, [...elementList(e), nest(NFTA_SET_ELEM_LIST.ELEMENTS, elems)]),
      describe: `add element ${familyName(e.family)} ${e.table} ${e.set} (${chunk.length} keys)`,
    });
  }
  return out;
}

/** DELSETELEM without elements flushes the set (nft `flush set`). */
export function flushSet(family: number, table: string, set: string): OutgoingMessage {
  return {
    type: nft(NFT_MSG.DELSETELEM),
    flags: 0,
    payload: nfPayload(family, 0, [
      attrStr(NFTA_SET_ELEM_LIST.TABLE, table),
      attrStr(NFTA_SET_ELEM_LIST.SET, set),
    ]),
    describe: `flush set ${familyName(family)} ${table} ${set}`,
  };
}

/** Dump requests (sent with NLM_F_DUMP). */
export function getTables(family: number): OutgoingMessage {
  return {
    type: nft(NFT_MSG.GETTABLE),
    flags: 0,
    payload: nfPayload(family, 0, []),
    describe: `list tables ${familyName(family)}`,
  };
}
export function getChains(family: number): OutgoingMessage {
  return {
    type: nft(NFT_MSG.GETCHAIN),
    flags: 0,
    payload: nfPayload(family, 0, []),
    describe: `list chains ${familyName(family)}`,
  };
}
export function getRules(family: number, table: string): OutgoingMessage {
  return {
    type: nft(NFT_MSG.GETRULE),
    flags: 0,
    payload: nfPayload(family, 0, [attrStr(NFTA_RULE.TABLE, table)]),
    describe: `list rules ${familyName(family)} ${table}`,
  };
}
export function getSets(family: number, table: string): OutgoingMessage {
  return {
    type: nft(NFT_MSG.GETSET),
    flags: 0,
    payload: nfPayload(family, 0, [attrStr(NFTA_SET.TABLE, table)]),
    describe: `list sets ${familyName(family)} ${table}`,
  };
}
export function getSetElements(family: number, table: string, set: string): OutgoingMessage {
  return {
    type: nft(NFT_MSG.GETSETELEM),
    flags: 0,
    payload: nfPayload(family, 0, [
      attrStr(NFTA_SET_ELEM_LIST.TABLE, table),
      attrStr(NFTA_SET_ELEM_LIST.SET, set),
    ]),
    describe: `list set ${familyName(family)} ${table} ${set}`,
  };
}

function reqStr(a: AttrMap, type: number, what: string): string {
  const v = a.str(type);
  if (v === undefined) throw new NetlinkDecodeError(`${what} lacks attribute ${type}`);
  return v;
}

function expectType(m: NetlinkMessage, msg: number, what: string): void {
  if (m.type !== nft(msg))
    throw new NetlinkDecodeError(`expected an nf_tables ${what} message, got type ${m.type}`);
}

export function decodeTable(m: NetlinkMessage): NftTable {
  expectType(m, NFT_MSG.NEWTABLE, 'table');
  const { gen, attrs } = decodeNfPayload(m.payload);
  const t: NftTable = { family: gen.family, name: reqStr(attrs, NFTA_TABLE.NAME, 'table') };
  const flags = attrs.be32(NFTA_TABLE.FLAGS);
  if (flags !== undefined) t.flags = flags;
  const handle = attrs.be64(NFTA_TABLE.HANDLE);
  if (handle !== undefined) t.handle = handle;
  const use = attrs.be32(NFTA_TABLE.USE);
  if (use !== undefined) t.use = use;
  return t;
}

export function decodeChain(m: NetlinkMessage): NftChain {
  expectType(m, NFT_MSG.NEWCHAIN, 'chain');
  const { gen, attrs } = decodeNfPayload(m.payload);
  const c: NftChain = {
    family: gen.family,
    table: reqStr(attrs, NFTA_CHAIN.TABLE, 'chain'),
    name: reqStr(attrs, NFTA_CHAIN.NAME, 'chain'),
  };
  const hook = attrs.nested(NFTA_CHAIN.HOOK);
  if (hook) {
    const num = hook.be32(NFTA_HOOK.HOOKNUM) ?? 0;
    const names = (Object.keys(HOOK) as HookName[]).filter((k) => HOOK[k] === num);
    // Hook numbers overlap across families (netdev ingress = 0 = inet prerouting).
    const name =
      gen.family === 5 ? 'ingress' : (names.find((n) => n !== 'ingress') ?? names[0] ?? 'prerouting');
    c.hook = { hook: name, priority: hook.be32s(NFTA_HOOK.PRIORITY) ?? 0 };
    const dev = hook.str(NFTA_HOOK.DEV);
    if (dev !== undefined) c.hook.device = dev;
  }
  const type = attrs.str(NFTA_CHAIN.TYPE);
  if (type === 'filter' || type === 'nat' || type === 'route') c.type = type;
  const policy = attrs.be32(NFTA_CHAIN.POLICY);
  if (policy !== undefined) c.policy = policy === VERDICT.drop ? 'drop' : 'accept';
  const handle = attrs.be64(NFTA_CHAIN.HANDLE);
  if (handle !== undefined) c.handle = handle;
  return c;
}

export function decodeRule(m: NetlinkMessage): NftRule {
  expectType(m, NFT_MSG.NEWRULE, 'rule');
  const { gen, attrs } = decodeNfPayload(m.payload);
  const list = attrs.raw(NFTA_RULE.EXPRESSIONS);
  const r: NftRule = {
    family: gen.family,
    table: reqStr(attrs, NFTA_RULE.TABLE, 'rule'),
    chain: reqStr(attrs, NFTA_RULE.CHAIN, 'rule'),
    exprs: list ? decodeExprList(list) : [],
  };
  const handle = attrs.be64(NFTA_RULE.HANDLE);
  if (handle !== undefined) r.handle = handle;
  return r;
}

export function decodeSet(m: NetlinkMessage): NftSet {
  expectType(m, NFT_MSG.NEWSET, 'set');
  const { gen, attrs } = decodeNfPayload(m.payload);
  const s: NftSet = {
    family: gen.family,
    table: reqStr(attrs, NFTA_SET.TABLE, 'set'),
    name: reqStr(attrs, NFTA_SET.NAME, 'set'),
    flags: attrs.be32(NFTA_SET.FLAGS) ?? 0,
    keyType: attrs.be32(NFTA_SET.KEY_TYPE) ?? 0,
    keyLen: attrs.be32(NFTA_SET.KEY_LEN) ?? 0,
  };
  const handle = attrs.be64(NFTA_SET.HANDLE);
  if (handle !== undefined) s.handle = handle;
  return s;
}

export function decodeSetElements(m: NetlinkMessage): NftSetElements {
  expectType(m, NFT_MSG.NEWSETELEM, 'set element');
  const { gen, attrs } = decodeNfPayload(m.payload);
  const keys: Buffer[] = [];
  for (const el of attrs.nested(NFTA_SET_ELEM_LIST.ELEMENTS)?.all(NFTA_LIST_ELEM) ?? []) {
    const k = AttrMap.parse(el.value).nested(NFTA_SET_ELEM.KEY)?.raw(NFTA_DATA.VALUE);
    if (k) keys.push(Buffer.from(k));
  }
  return {
    family: gen.family,
    table: reqStr(attrs, NFTA_SET_ELEM_LIST.TABLE, 'set element list'),
    set: reqStr(attrs, NFTA_SET_ELEM_LIST.SET, 'set element list'),
    keys,
  };
}
