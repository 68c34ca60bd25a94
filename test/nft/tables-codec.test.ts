import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import t from 'tap';
import { networkConfigSchema } from '../../src/config/network.js';
import { firewallConfigSchema } from '../../src/nft/config.js';
import { decodeMessages, encodeMessage } from '../../src/nft/netlink/message.js';
import {
  expectedRules,
  planFromConfig,
  removeRulesetMessages,
  rulesetMessages,
} from '../../src/nft/ruleset.js';
import {
  CMP_OPS,
  CT_KEYS,
  META_KEYS,
  PAYLOAD_BASES,
  VERDICT,
  type VerdictName,
} from '../../src/nft/tables/constants.js';
import { type Expr, decodeExprList, encodeExprList } from '../../src/nft/tables/expr.js';
import { ipAddrIn } from '../../src/nft/tables/match.js';
import {
  decodeChain,
  decodeRule,
  decodeSet,
  decodeTable,
  newChain,
  newRule,
  newSet,
  newTable,
} from '../../src/nft/tables/messages.js';
import { printExpr } from '../../src/nft/tables/print.js';

const reg = fc.integer({ min: 0, max: 4 });
const bytes = (max: number) => fc.uint8Array({ minLength: 1, maxLength: max }).map((b) => Buffer.from(b));
const name = fc.stringMatching(/^[a-z_][a-z0-9_]{0,20}$/);

const exprArb: fc.Arbitrary<Expr> = fc.oneof(
  fc.record({ kind: fc.constant('meta' as const), key: fc.constantFrom(...META_KEYS), dreg: reg }),
  fc.record({
    kind: fc.constant('cmp' as const),
    sreg: reg,
    op: fc.constantFrom(...CMP_OPS),
    data: bytes(16),
  }),
  fc.record({
    kind: fc.constant('payload' as const),
    base: fc.constantFrom(...PAYLOAD_BASES),
    offset: fc.nat(64),
    len: fc.integer({ min: 1, max: 16 }),
    dreg: reg,
  }),
  fc.integer({ min: 1, max: 16 }).chain((len) =>
    fc.record({
      kind: fc.constant('bitwise' as const),
      sreg: reg,
      dreg: reg,
      len: fc.constant(len),
      mask: fc.uint8Array({ minLength: len, maxLength: len }).map((b) => Buffer.from(b)),
      xor: fc.uint8Array({ minLength: len, maxLength: len }).map((b) => Buffer.from(b)),
    }),
  ),
  fc.record({ kind: fc.constant('lookup' as const), sreg: reg, set: name }),
  fc.record({
    kind: fc.constant('verdict' as const),
    verdict: fc.constantFrom(
      ...(Object.keys(VERDICT) as VerdictName[]).filter((v) => v !== 'jump' && v !== 'goto'),
    ),
  }),
  fc.record({ kind: fc.constant('ct' as const), key: fc.constantFrom(...CT_KEYS), dreg: reg }),
  fc.record({
    kind: fc.constant('log' as const),
    prefix: fc.string({ maxLength: 40 }).filter((s) => !s.includes('\0')),
    group: fc.integer({ min: 0, max: 65535 }),
  }),
  fc.constant<Expr>({ kind: 'masq' }),
  fc.record({
    kind: fc.constant('counter' as const),
    packets: fc.bigInt({ min: 0n, max: (1n << 63n) - 1n }),
    bytes: fc.bigInt({ min: 0n, max: (1n << 63n) - 1n }),
  }),
);

t.test('expressions round-trip through NFTA_RULE_EXPRESSIONS (property)', async () => {
  fc.assert(
    fc.property(fc.array(exprArb, { maxLength: 8 }), (exprs) => {
      const back = decodeExprList(encodeExprList(4, exprs).subarray(4));
      return isDeepStrictEqual(
        back,
        exprs.map((e) => ({ ...e })),
      );
    }),
  );
});

t.test('the printer speaks libnftnl: values as host-order words', async (t) => {
  const [guardMeta, guardCmp, load, mask, cmp] = ipAddrIn(1, 'saddr', '192.168.0.0/23');
  t.equal(printExpr(guardMeta!), '[ meta load nfproto => reg 1 ]');
  t.equal(printExpr(guardCmp!), '[ cmp eq reg 1 0x00000002 ]');
  t.equal(printExpr(load!), '[ payload load 4b @ network header + 12 => reg 1 ]');
  t.equal(printExpr(mask!), '[ bitwise reg 1 = ( reg 1 & 0x00feffff ) ^ 0x00000000 ]');
  t.equal(printExpr(cmp!), '[ cmp eq reg 1 0x0000a8c0 ]');
  t.equal(printExpr({ kind: 'masq' }), '[ masq ]');
  t.equal(
    printExpr({ kind: 'log', prefix: 'p ', group: 5 }),
    '[ log prefix p  group 5 snaplen 0 qthreshold 0 ]',
  );
});

t.test('table, chain, set and rule messages decode back to what was encoded', async (t) => {
  const asKernel = (m: { type: number; payload: Buffer }) =>
    decodeMessages(encodeMessage({ type: m.type, flags: 0, seq: 1, payload: m.payload }))[0]!;
  t.same(decodeTable(asKernel(newTable({ family: 1, name: 'gatehouse' }))), { family: 1, name: 'gatehouse' });
  t.same(
    decodeChain(
      asKernel(
        newChain({
          family: 1,
          table: 'g',
          name: 'forward',
          type: 'filter',
          hook: { hook: 'forward', priority: 0 },
          policy: 'drop',
        }),
      ),
    ),
    {
      family: 1,
      table: 'g',
      name: 'forward',
      type: 'filter',
      hook: { hook: 'forward', priority: 0 },
      policy: 'drop',
    },
  );
  t.same(
    decodeChain(
      asKernel(
        newChain({
          family: 5,
          table: 'l',
          name: 'ingress_eth0',
          type: 'filter',
          hook: { hook: 'ingress', priority: -10, device: 'eth0' },
        }),
      ),
    ).hook,
    {
      hook: 'ingress',
      priority: -10,
      device: 'eth0',
    },
  );
  t.same(
    decodeSet(asKernel(newSet({ family: 1, table: 'g', name: 's', id: 1, flags: 0, keyType: 7, keyLen: 4 }))),
    { family: 1, table: 'g', name: 's', flags: 0, keyType: 7, keyLen: 4 },
  );
  const plan = planFromConfig(firewallConfigSchema.parse({}), networkConfigSchema.parse({}));
  for (const r of expectedRules(plan)) {
    const back = decodeRule(asKernel(newRule(r)));
    t.same(back.exprs.map(printExpr), r.exprs.map(printExpr), r.text);
  }
});

t.test('the ruleset is one batch that re-creates only our table', async (t) => {
  const plan = planFromConfig(
    firewallConfigSchema.parse({ lanInterfaces: ['lan0'], uplinkInterfaces: ['uplink'] }),
    networkConfigSchema.parse({}),
  );
  const msgs = rulesetMessages(plan, ['192.168.0.1']);
  t.same(
    msgs.slice(0, 3).map((m) => m.describe),
    ['add table inet gatehouse', 'delete table inet gatehouse', 'add table inet gatehouse'],
  );
  t.ok(
    msgs.every((m) => m.describe.includes(' gatehouse')),
    'every message names table gatehouse',
  );
  t.same(
    expectedRules(plan).map((r) => `${r.chain}: ${r.text}`),
    [
      'input: iifname "uplink" ct state invalid drop',
      'input: iifname "lo" accept',
      'input: iifname "lan0" udp dport @lan_udp_services accept',
      'input: iifname "lan0" tcp dport @lan_tcp_services accept',
      'input: udp dport @lan_udp_services drop',
      'input: tcp dport @lan_tcp_services drop',
      'forward: ct state invalid drop',
      'forward: ct state new ip saddr 192.168.0.0/23 log prefix "Prologin outgoing connection " group 10',
      'forward: ct state established,related accept',
      'forward: ip saddr @allowed_internet_access accept',
      'forward: ip saddr 192.168.1.0/24 accept',
      'forward: iifname "uplink" oifname "lan0" accept',
      'postrouting: oifname "uplink" masquerade',
    ],
    'the five forward rules of spec §11.1 in the original order, after the drop of invalid packets',
  );
  t.same(
    removeRulesetMessages('gatehouse').map((m) => m.describe),
    ['add table inet gatehouse', 'delete table inet gatehouse'],
  );
  const noLan = planFromConfig(
    firewallConfigSchema.parse({ lanInterfaces: [] }),
    networkConfigSchema.parse({}),
  );
  t.same(
    expectedRules(noLan)
      .filter((r) => r.chain === 'input')
      .map((r) => r.text),
    ['prologin', 'host0', 'uplink'].map((up) => `iifname "${up}" ct state invalid drop`),
    'without LAN interfaces input only drops what arrives on an uplink outside any connection',
  );
});
