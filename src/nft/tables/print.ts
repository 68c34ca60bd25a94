import { endianness } from 'node:os';
import { FAMILY_NAMES } from './constants.js';
import type { Expr } from './expr.js';
import type { NftRule } from './messages.js';

/**
 * Prints expressions the way libnftnl does for `nft --debug=netlink` (`[ cmp eq reg 1
 * 0x0000a8c0 ]`), so our encoder can be checked against nft's own output and operators can
 * read `gatehouse fw status --debug`. Data registers print as host-order 32-bit words.
 */
const hostLE = endianness() === 'LE';

export function dataWords(data: Buffer): string[] {
  const padded = Buffer.alloc(Math.ceil(data.length / 4) * 4);
  data.copy(padded);
  const out: string[] = [];
  for (let i = 0; i < padded.length; i += 4) {
    const w = hostLE ? padded.readUInt32LE(i) : padded.readUInt32BE(i);
    out.push(`0x${w.toString(16).padStart(8, '0')}`);
  }
  return out;
}

function tokens(e: Expr): [string, string[]] {
  switch (e.kind) {
    case 'meta':
      return ['meta', ['load', e.key, '=>', 'reg', String(e.dreg)]];
    case 'cmp':
      return ['cmp', [e.op, 'reg', String(e.sreg), ...dataWords(e.data)]];
    case 'payload':
      return [
        'payload',
        ['load', `${e.len}b`, '@', e.base, 'header', '+', String(e.offset), '=>', 'reg', String(e.dreg)],
      ];
    case 'bitwise':
      return [
        'bitwise',
        [
          'reg',
          String(e.dreg),
          '=',
          '(',
          'reg',
          String(e.sreg),
          '&',
          ...dataWords(e.mask),
          ')',
          '^',
          ...dataWords(e.xor),
        ],
      ];
    case 'lookup': {
      const t = ['reg', String(e.sreg), 'set', e.set];
      if (e.invert) t.push('0x1');
      return ['lookup', t];
    }
    case 'verdict':
      return ['immediate', ['reg', '0', e.verdict, ...(e.chain !== undefined ? ['->', e.chain] : [])]];
    case 'ct':
      return ['ct', ['load', e.key, '=>', 'reg', String(e.dreg)]];
    case 'log': {
      const t: string[] = [];
      if (e.prefix !== undefined) t.push('prefix', e.prefix);
      if (e.group !== undefined)
        t.push(
          'group',
          String(e.group),
          'snaplen',
          String(e.snaplen ?? 0),
          'qthreshold',
          String(e.qthreshold ?? 0),
        );
      else if (e.level !== undefined) t.push('level', String(e.level));
      return ['log', t];
    }
    case 'masq':
      return ['masq', e.flags ? ['flags', `0x${e.flags.toString(16)}`] : []];
    case 'counter':
      return ['counter', ['pkts', String(e.packets), 'bytes', String(e.bytes)]];
    case 'unknown':
      return [e.name, [`<${e.data.length} bytes>`]];
  }
}

export function printExpr(e: Expr): string {
  const [name, t] = tokens(e);
  return `[ ${[name, ...t].join(' ')} ]`;
}

/** The block nft --debug=netlink prints for one rule: `family table chain` then indented expressions. */
export function printRule(r: NftRule): string {
  return [
    `${FAMILY_NAMES[r.family] ?? r.family} ${r.table} ${r.chain}`,
    ...r.exprs.map((e) => `  ${printExpr(e)}`),
  ].join('\n');
}
