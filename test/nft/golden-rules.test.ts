import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { networkConfigSchema } from '../../src/config/network.js';
import { firewallConfigSchema } from '../../src/nft/config.js';
import { decodeMessages, encodeMessage } from '../../src/nft/netlink/message.js';
import { netdevLogMessages } from '../../src/nft/nflog/netdev.js';
import { expectedRules, planFromConfig } from '../../src/nft/ruleset.js';
import { NFT_MSG } from '../../src/nft/tables/constants.js';
import type { Expr } from '../../src/nft/tables/expr.js';
import { type NftRule, decodeRule, newRule } from '../../src/nft/tables/messages.js';
import { printRule } from '../../src/nft/tables/print.js';
import { Netns, ip, needsRoot } from '../helpers/netns.js';
import { repoRoot } from '../helpers/spawn-gatehouse.js';

/**
 * Golden tests of the rule encoder: for every rule Gatehouse programs, `nft --debug=netlink add
 * rule …` (same rule in nft syntax) must print exactly the expression list our encoded bytes
 * decode to; then the rules nft created, listed back from the kernel with our decoder, must
 * equal what we encode (byte lengths included).
 */

/** Encodes, then decodes as if the kernel had sent it: the golden compares our bytes. */
function roundTrip(rule: NftRule, describe?: string): NftRule {
  const m = newRule(rule, describe);
  return decodeRule(
    decodeMessages(encodeMessage({ type: m.type, flags: 0, seq: 1, payload: m.payload }))[0]!,
  );
}

/** Blocks `family table chain` + `  [ … ]` lines of nft --debug=netlink output. */
function parseDebug(out: string): string[] {
  return out
    .split(/\n\s*\n/)
    .map((b) => b.trim().split('\n'))
    .filter(
      (lines) =>
        /^(inet|ip|ip6|netdev|bridge|arp) \S+ \S+$/.test(lines[0] ?? '') &&
        lines.slice(1).every((l) => l.trim().startsWith('[')),
    )
    .map((lines) => [lines[0]!, ...lines.slice(1).map((l) => `  ${l.trim()}`)].join('\n'));
}

/** Kernel listings omit batch-only attributes (set ids) and default log values. */
function normalise(e: Expr): Expr {
  if (e.kind === 'lookup')
    return { kind: 'lookup', sreg: e.sreg, set: e.set, ...(e.invert ? { invert: true } : {}) };
  if (e.kind === 'log')
    return {
      kind: 'log',
      ...(e.prefix !== undefined ? { prefix: e.prefix } : {}),
      ...(e.group !== undefined ? { group: e.group } : {}),
    };
  return e;
}
const asJson = (exprs: Expr[]) => JSON.parse(JSON.stringify(exprs.map(normalise)));

t.test('rule encoder vs nft --debug=netlink and the kernel listing', { skip: needsRoot }, async (t) => {
  const ns = new Netns(`ghfwg-${process.pid % 100000}`);
  await ip('netns', 'add', ns.name);
  t.teardown(async () => {
    await ns.killAll();
    await ip('netns', 'del', ns.name);
  });
  await ns.exec('ip', ['link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth1']);

  const plan = planFromConfig(
    firewallConfigSchema.parse({
      lanInterfaces: ['lan0', 'lan1'],
      uplinkInterfaces: ['uplink', 'host0'],
      logGroup: 5,
    }),
    networkConfigSchema.parse({}),
  );
  const rules = expectedRules(plan);
  const netdev = netdevLogMessages({ table: 'lldp', devices: ['veth0'], etherType: 0x88cc, group: 7 });
  const netdevRule = netdev.find((m) => (m.type & 0xff) === NFT_MSG.NEWRULE)!;

  const setup = [
    'add table inet gatehouse',
    'add set inet gatehouse allowed_internet_access { type ipv4_addr; }',
    'add set inet gatehouse lan_udp_services { type inet_service; }',
    'add set inet gatehouse lan_tcp_services { type inet_service; }',
    'add chain inet gatehouse input { type filter hook input priority 0; policy accept; }',
    'add chain inet gatehouse forward { type filter hook forward priority 0; policy drop; }',
    'add chain inet gatehouse postrouting { type nat hook postrouting priority 100; policy accept; }',
    'add table netdev lldp',
    'add chain netdev lldp ingress_veth0 { type filter hook ingress device veth0 priority 0; }',
  ];
  const adds = [
    ...rules.map((r) => `add rule inet gatehouse ${r.chain} ${r.text}`),
    'add rule netdev lldp ingress_veth0 ether type 0x88cc log group 7',
  ];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ghfwg-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'setup.nft'), `${setup.join('\n')}\n`);
  fs.writeFileSync(path.join(dir, 'rules.nft'), `${adds.join('\n')}\n`);
  await ns.exec('nft', ['-f', path.join(dir, 'setup.nft')]);
  const debug = await ns.exec('nft', ['--debug=netlink', '-f', path.join(dir, 'rules.nft')]);
  const blocks = parseDebug(debug.stdout);
  t.equal(blocks.length, rules.length + 1, 'one block per rule');

  const ours = [
    ...rules.map((r) => printRule(roundTrip(r, r.text))),
    printRule(
      decodeRule(
        decodeMessages(
          encodeMessage({ type: netdevRule.type, flags: 0, seq: 1, payload: netdevRule.payload }),
        )[0]!,
      ),
    ),
  ];
  const labels = [...rules.map((r) => `${r.chain}: ${r.text}`), 'netdev: ether type 0x88cc log group 7'];
  for (let i = 0; i < ours.length; i++) t.equal(ours[i], blocks[i], labels[i] ?? '');

  const dump = await ns.exec(process.execPath, [
    '--import',
    'tsx',
    path.join(repoRoot, 'test/nft/fixtures/dump-rules.ts'),
    '1',
    'gatehouse',
  ]);
  const listed = dump.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { chain: string; exprs: Expr[] });
  t.equal(listed.length, rules.length);
  for (let i = 0; i < rules.length; i++) {
    const mine = roundTrip(rules[i]!);
    t.same(
      JSON.parse(JSON.stringify(listed[i]!.exprs.map(normalise))),
      asJson(mine.exprs),
      `kernel listing of "${rules[i]!.text}" equals our encoding, byte for byte`,
    );
  }
});
