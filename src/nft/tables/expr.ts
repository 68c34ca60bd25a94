import {
  AttrMap,
  NetlinkDecodeError,
  attr,
  attrBe16,
  attrBe32,
  attrBe32s,
  attrStr,
  nest,
} from '../netlink/attr.js';
import {
  CMP_OPS,
  CT_KEYS,
  type CmpOp,
  type CtKey,
  META_KEYS,
  type MetaKey,
  NFTA_BITWISE,
  NFTA_CMP,
  NFTA_COUNTER,
  NFTA_CT,
  NFTA_DATA,
  NFTA_EXPR,
  NFTA_IMMEDIATE,
  NFTA_LIST_ELEM,
  NFTA_LOG,
  NFTA_LOOKUP,
  NFTA_MASQ,
  NFTA_META,
  NFTA_PAYLOAD,
  NFTA_VERDICT,
  NFT_LOOKUP_F_INV,
  PAYLOAD_BASES,
  type PayloadBase,
  VERDICT,
  type VerdictName,
} from './constants.js';

/**
 * The nf_tables expressions Gatehouse emits, as typed values. A rule is a list of them; each
 * is encoded as NFTA_LIST_ELEM { NFTA_EXPR_NAME, NFTA_EXPR_DATA { … } } inside
 * NFTA_RULE_EXPRESSIONS. Registers and integers are big-endian u32 in the attributes; data
 * (NFTA_DATA_VALUE) is raw bytes in packet order.
 */
export type Expr =
  | { kind: 'meta'; key: MetaKey; dreg: number }
  | { kind: 'cmp'; sreg: number; op: CmpOp; data: Buffer }
  | { kind: 'payload'; base: PayloadBase; offset: number; len: number; dreg: number }
  | { kind: 'bitwise'; sreg: number; dreg: number; len: number; mask: Buffer; xor: Buffer }
  | { kind: 'lookup'; sreg: number; set: string; setId?: number; invert?: boolean }
  | { kind: 'verdict'; verdict: VerdictName; chain?: string }
  | { kind: 'ct'; key: CtKey; dreg: number }
  | { kind: 'log'; prefix?: string; group?: number; snaplen?: number; qthreshold?: number; level?: number }
  | { kind: 'masq'; flags?: number }
  | { kind: 'counter'; packets: bigint; bytes: bigint }
  | { kind: 'unknown'; name: string; data: Buffer };

function dataValue(type: number, value: Buffer): Buffer {
  return nest(type, [attr(NFTA_DATA.VALUE, value)]);
}

function indexOf<T extends string>(list: readonly T[], v: T, what: string): number {
  const i = list.indexOf(v);
  if (i < 0) throw new NetlinkDecodeError(`unknown ${what} ${v}`);
  return i;
}

/** The name and NFTA_EXPR_DATA attributes of one expression. */
function exprBody(e: Expr): { name: string; attrs: Buffer[] } {
  switch (e.kind) {
    case 'meta':
      return {
        name: 'meta',
        attrs: [
          attrBe32(NFTA_META.KEY, indexOf(META_KEYS, e.key, 'meta key')),
          attrBe32(NFTA_META.DREG, e.dreg),
        ],
      };
    case 'cmp':
      return {
        name: 'cmp',
        attrs: [
          attrBe32(NFTA_CMP.SREG, e.sreg),
          attrBe32(NFTA_CMP.OP, indexOf(CMP_OPS, e.op, 'cmp op')),
          dataValue(NFTA_CMP.DATA, e.data),
        ],
      };
    case 'payload':
      return {
        name: 'payload',
        attrs: [
          attrBe32(NFTA_PAYLOAD.DREG, e.dreg),
          attrBe32(NFTA_PAYLOAD.BASE, indexOf(PAYLOAD_BASES, e.base, 'payload base')),
          attrBe32(NFTA_PAYLOAD.OFFSET, e.offset),
          attrBe32(NFTA_PAYLOAD.LEN, e.len),
        ],
      };
    case 'bitwise':
      return {
        name: 'bitwise',
        attrs: [
          attrBe32(NFTA_BITWISE.SREG, e.sreg),
          attrBe32(NFTA_BITWISE.DREG, e.dreg),
          attrBe32(NFTA_BITWISE.LEN, e.len),
          dataValue(NFTA_BITWISE.MASK, e.mask),
          dataValue(NFTA_BITWISE.XOR, e.xor),
        ],
      };
    case 'lookup': {
      const attrs = [attrStr(NFTA_LOOKUP.SET, e.set), attrBe32(NFTA_LOOKUP.SREG, e.sreg)];
      if (e.setId !== undefined) attrs.push(attrBe32(NFTA_LOOKUP.SET_ID, e.setId));
      if (e.invert) attrs.push(attrBe32(NFTA_LOOKUP.FLAGS, NFT_LOOKUP_F_INV));
      return { name: 'lookup', attrs };
    }
    case 'verdict': {
      const v = [attrBe32s(NFTA_VERDICT.CODE, VERDICT[e.verdict])];
      if (e.chain !== undefined) v.push(attrStr(NFTA_VERDICT.CHAIN, e.chain));
      return {
        name: 'immediate',
        attrs: [attrBe32(NFTA_IMMEDIATE.DREG, 0), nest(NFTA_IMMEDIATE.DATA, [nest(NFTA_DATA.VERDICT, v)])],
      };
    }
    case 'ct':
      return {
        name: 'ct',
        attrs: [attrBe32(NFTA_CT.KEY, indexOf(CT_KEYS, e.key, 'ct key')), attrBe32(NFTA_CT.DREG, e.dreg)],
      };
    case 'log': {
      const attrs: Buffer[] = [];
      if (e.prefix !== undefined) attrs.push(attrStr(NFTA_LOG.PREFIX, e.prefix));
      if (e.group !== undefined) attrs.push(attrBe16(NFTA_LOG.GROUP, e.group));
      if (e.snaplen !== undefined) attrs.push(attrBe32(NFTA_LOG.SNAPLEN, e.snaplen));
      if (e.qthreshold !== undefined) attrs.push(attrBe16(NFTA_LOG.QTHRESHOLD, e.qthreshold));
      if (e.level !== undefined) attrs.push(attrBe32(NFTA_LOG.LEVEL, e.level));
      return { name: 'log', attrs };
    }
    case 'masq':
      return { name: 'masq', attrs: e.flags ? [attrBe32(NFTA_MASQ.FLAGS, e.flags)] : [] };
    case 'counter': {
      const b = Buffer.alloc(8);
      b.writeBigUInt64BE(e.bytes);
      const p = Buffer.alloc(8);
      p.writeBigUInt64BE(e.packets);
      return { name: 'counter', attrs: [attr(NFTA_COUNTER.BYTES, b), attr(NFTA_COUNTER.PACKETS, p)] };
    }
    case 'unknown':
      return { name: e.name, attrs: [e.data] };
  }
}

export function encodeExpr(e: Expr): Buffer {
  const { name, attrs } = exprBody(e);
  return nest(NFTA_LIST_ELEM, [attrStr(NFTA_EXPR.NAME, name), nest(NFTA_EXPR.DATA, attrs)]);
}

export function encodeExprList(type: number, exprs: readonly Expr[]): Buffer {
  return nest(type, exprs.map(encodeExpr));
}

function reqBe32(a: AttrMap, type: number, what: string): number {
  const v = a.be32(type);
  if (v === undefined) throw new NetlinkDecodeError(`${what} lacks attribute ${type}`);
  return v;
}

function dataOf(a: AttrMap, type: number, what: string): Buffer {
  const v = a.nested(type)?.raw(NFTA_DATA.VALUE);
  if (v === undefined) throw new NetlinkDecodeError(`${what} lacks data attribute ${type}`);
  return Buffer.from(v);
}

function named<T extends string>(list: readonly T[], i: number, what: string): T {
  const v = list[i];
  if (v === undefined) throw new NetlinkDecodeError(`unknown ${what} ${i}`);
  return v;
}

/** Decodes one NFTA_LIST_ELEM of NFTA_RULE_EXPRESSIONS. Unknown expressions are kept opaque. */
export function decodeExpr(elem: Buffer): Expr {
  const a = AttrMap.parse(elem);
  const name = a.str(NFTA_EXPR.NAME);
  if (name === undefined) throw new NetlinkDecodeError('expression without a name');
  const d = a.nested(NFTA_EXPR.DATA) ?? new AttrMap([]);
  switch (name) {
    case 'meta':
      return {
        kind: 'meta',
        key: named(META_KEYS, reqBe32(d, NFTA_META.KEY, name), 'meta key'),
        dreg: reqBe32(d, NFTA_META.DREG, name),
      };
    case 'cmp':
      return {
        kind: 'cmp',
        sreg: reqBe32(d, NFTA_CMP.SREG, name),
        op: named(CMP_OPS, reqBe32(d, NFTA_CMP.OP, name), 'cmp op'),
        data: dataOf(d, NFTA_CMP.DATA, name),
      };
    case 'payload':
      return {
        kind: 'payload',
        dreg: reqBe32(d, NFTA_PAYLOAD.DREG, name),
        base: named(PAYLOAD_BASES, reqBe32(d, NFTA_PAYLOAD.BASE, name), 'payload base'),
        offset: reqBe32(d, NFTA_PAYLOAD.OFFSET, name),
        len: reqBe32(d, NFTA_PAYLOAD.LEN, name),
      };
    case 'bitwise':
      return {
        kind: 'bitwise',
        sreg: reqBe32(d, NFTA_BITWISE.SREG, name),
        dreg: reqBe32(d, NFTA_BITWISE.DREG, name),
        len: reqBe32(d, NFTA_BITWISE.LEN, name),
        mask: dataOf(d, NFTA_BITWISE.MASK, name),
        xor: dataOf(d, NFTA_BITWISE.XOR, name),
      };
    case 'lookup': {
      const set = d.str(NFTA_LOOKUP.SET);
      if (set === undefined) throw new NetlinkDecodeError('lookup without a set name');
      const e: Expr = { kind: 'lookup', sreg: reqBe32(d, NFTA_LOOKUP.SREG, name), set };
      const id = d.be32(NFTA_LOOKUP.SET_ID);
      if (id !== undefined) e.setId = id;
      if (((d.be32(NFTA_LOOKUP.FLAGS) ?? 0) & NFT_LOOKUP_F_INV) !== 0) e.invert = true;
      return e;
    }
    case 'immediate': {
      const verdict = d.nested(NFTA_IMMEDIATE.DATA)?.nested(NFTA_DATA.VERDICT);
      if (verdict) {
        const code = verdict.be32s(NFTA_VERDICT.CODE);
        const vname = (Object.keys(VERDICT) as VerdictName[]).find((k) => VERDICT[k] === code);
        if (vname === undefined) throw new NetlinkDecodeError(`unknown verdict code ${code}`);
        const chain = verdict.str(NFTA_VERDICT.CHAIN);
        return chain === undefined
          ? { kind: 'verdict', verdict: vname }
          : { kind: 'verdict', verdict: vname, chain };
      }
      return { kind: 'unknown', name, data: Buffer.from(a.raw(NFTA_EXPR.DATA) ?? Buffer.alloc(0)) };
    }
    case 'ct':
      return {
        kind: 'ct',
        key: named(CT_KEYS, reqBe32(d, NFTA_CT.KEY, name), 'ct key'),
        dreg: reqBe32(d, NFTA_CT.DREG, name),
      };
    case 'log': {
      const e: Extract<Expr, { kind: 'log' }> = { kind: 'log' };
      const prefix = d.str(NFTA_LOG.PREFIX);
      if (prefix !== undefined) e.prefix = prefix;
      const group = d.be16(NFTA_LOG.GROUP);
      if (group !== undefined) e.group = group;
      const snaplen = d.be32(NFTA_LOG.SNAPLEN);
      if (snaplen !== undefined) e.snaplen = snaplen;
      const q = d.be16(NFTA_LOG.QTHRESHOLD);
      if (q !== undefined) e.qthreshold = q;
      const level = d.be32(NFTA_LOG.LEVEL);
      if (level !== undefined) e.level = level;
      return e;
    }
    case 'masq': {
      const flags = d.be32(NFTA_MASQ.FLAGS);
      return flags ? { kind: 'masq', flags } : { kind: 'masq' };
    }
    case 'counter':
      return {
        kind: 'counter',
        bytes: d.be64(NFTA_COUNTER.BYTES) ?? 0n,
        packets: d.be64(NFTA_COUNTER.PACKETS) ?? 0n,
      };
    default:
      return { kind: 'unknown', name, data: Buffer.from(a.raw(NFTA_EXPR.DATA) ?? Buffer.alloc(0)) };
  }
}

export function decodeExprList(list: Buffer): Expr[] {
  return AttrMap.parse(list)
    .all(NFTA_LIST_ELEM)
    .map((elem) => decodeExpr(elem.value));
}
