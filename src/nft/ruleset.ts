import type { NetworkConfig } from '../config/network.js';
import type { FirewallConfig } from './config.js';
import type { OutgoingMessage } from './netlink/socket.js';
import { FAMILIES, NFT_TYPE } from './tables/constants.js';
import type { Expr } from './tables/expr.js';
import {
  accept,
  be16Bytes,
  ctStateAny,
  dportInSet,
  drop,
  iifname,
  ipAddrIn,
  ipAddrInSet,
  ipv4Bytes,
  logToGroup,
  masquerade,
  oifname,
} from './tables/match.js';
import {
  type NftChain,
  type NftRule,
  type NftSet,
  delTable,
  flushSet,
  newChain,
  newRule,
  newSet,
  newSetElements,
  newTable,
} from './tables/messages.js';

/**
 * The static ruleset of spec §11.1 in Gatehouse's own `inet` table, built as data:
 *
 *   table inet gatehouse {
 *     set allowed_internet_access { type ipv4_addr }      # live set, replaced atomically
 *     set lan_udp_services / lan_tcp_services { type inet_service }
 *     chain input { type filter hook input priority 0; policy accept;
 *       iifname "<uplink>" ct state invalid drop                # per uplink
 *       iifname "lo" accept
 *       iifname "<lan>" udp|tcp dport @lan_*_services accept    # per LAN interface
 *       udp|tcp dport @lan_*_services drop                      # DHCP/DNS/TFTP/HTTP only on the LAN
 *     }
 *     chain forward { type filter hook forward priority 0; policy drop;
 *       ct state invalid drop
 *       ct state new ip saddr <lan> log prefix "Prologin outgoing connection " group <N>
 *       ct state established,related accept
 *       ip saddr @allowed_internet_access accept
 *       ip saddr <servers> accept
 *       iifname "<uplink>" oifname "<lan>" accept               # per pair
 *     }
 *     chain postrouting { type nat hook postrouting priority 100; policy accept;
 *       oifname "<uplink>" masquerade                           # per uplink
 *     }
 *   }
 *
 * The five forward rules keep the original order. The LOG target became `log group` so the
 * lines reach Gatehouse's connection log (nfnetlink_log) instead of the kernel ring.
 *
 * The `ct state invalid drop` rules are new: segments conntrack cannot place in a connection it
 * tracks (with `nf_conntrack_tcp_loose=0`, which an HA pair with conntrackd sets: a mid-stream
 * segment of a connection the gateway never saw). On a new primary they arrive between the
 * address move and `conntrackd -c`: unmatched, a server's segment for the NAT address would
 * reach the local stack, whose RST kills the NATed connection; a client's would leave
 * un-NATed. Dropped, they are retransmitted once the state is committed (docs/ha.md
 * "Established connections"). Input drops them from the uplink only: on the LAN a RST from
 * the gateway's own services tells a client at once that its connection is gone.
 */
export const ALLOWED_SET = 'allowed_internet_access';
export const LAN_UDP_SET = 'lan_udp_services';
export const LAN_TCP_SET = 'lan_tcp_services';
const SET_IDS = { [ALLOWED_SET]: 1, [LAN_UDP_SET]: 2, [LAN_TCP_SET]: 3 } as const;

export interface RulesetPlan {
  table: string;
  lan: string;
  servers: string;
  lanInterfaces: readonly string[];
  uplinkInterfaces: readonly string[];
  udpPorts: readonly number[];
  tcpPorts: readonly number[];
  logGroup: number;
  logPrefix: string;
}

/** The /24 that holds `ip` (the original's servers subnet 192.168.1.0/24 holds the gateway). */
function slash24Of(ip: string): string {
  const p = ip.split('.');
  return `${p[0]}.${p[1]}.${p[2]}.0/24`;
}

export function planFromConfig(fw: FirewallConfig, net: NetworkConfig): RulesetPlan {
  return {
    table: fw.table,
    lan: net.lan,
    servers: fw.serversSubnet ?? slash24Of(net.gateway),
    lanInterfaces: [...new Set(fw.lanInterfaces)],
    uplinkInterfaces: [...new Set(fw.uplinkInterfaces)],
    udpPorts: [...new Set(fw.lanOnlyPorts.udp)].sort((a, b) => a - b),
    tcpPorts: [...new Set(fw.lanOnlyPorts.tcp)].sort((a, b) => a - b),
    logGroup: fw.logGroup,
    logPrefix: fw.logPrefix,
  };
}

const F = FAMILIES.inet;

export function expectedSets(plan: RulesetPlan): NftSet[] {
  const base = { family: F, table: plan.table, flags: 0 };
  const sets: NftSet[] = [
    { ...base, name: ALLOWED_SET, id: SET_IDS[ALLOWED_SET], keyType: NFT_TYPE.ipv4_addr, keyLen: 4 },
  ];
  if (plan.lanInterfaces.length > 0) {
    if (plan.udpPorts.length > 0)
      sets.push({
        ...base,
        name: LAN_UDP_SET,
        id: SET_IDS[LAN_UDP_SET],
        keyType: NFT_TYPE.inet_service,
        keyLen: 2,
      });
    if (plan.tcpPorts.length > 0)
      sets.push({
        ...base,
        name: LAN_TCP_SET,
        id: SET_IDS[LAN_TCP_SET],
        keyType: NFT_TYPE.inet_service,
        keyLen: 2,
      });
  }
  return sets;
}

export function expectedChains(plan: RulesetPlan): NftChain[] {
  return [
    {
      family: F,
      table: plan.table,
      name: 'input',
      type: 'filter',
      hook: { hook: 'input', priority: 0 },
      policy: 'accept',
    },
    {
      family: F,
      table: plan.table,
      name: 'forward',
      type: 'filter',
      hook: { hook: 'forward', priority: 0 },
      policy: 'drop',
    },
    {
      family: F,
      table: plan.table,
      name: 'postrouting',
      type: 'nat',
      hook: { hook: 'postrouting', priority: 100 },
      policy: 'accept',
    },
  ];
}

/** Every rule, in chain order, with a short text saying what it is for (error messages, status). */
export function expectedRules(plan: RulesetPlan): Array<NftRule & { text: string }> {
  const t = plan.table;
  const rule = (chain: string, text: string, exprs: Expr[]) => ({ family: F, table: t, chain, exprs, text });
  const out: Array<NftRule & { text: string }> = [];

  for (const up of plan.uplinkInterfaces)
    out.push(
      rule('input', `iifname "${up}" ct state invalid drop`, [
        ...iifname(up),
        ...ctStateAny(['invalid']),
        drop,
      ]),
    );
  if (plan.lanInterfaces.length > 0) {
    out.push(rule('input', 'iifname "lo" accept', [...iifname('lo'), accept]));
    const services: Array<['udp' | 'tcp', string, readonly number[]]> = [
      ['udp', LAN_UDP_SET, plan.udpPorts],
      ['tcp', LAN_TCP_SET, plan.tcpPorts],
    ];
    for (const lan of plan.lanInterfaces) {
      for (const [proto, set, ports] of services) {
        if (ports.length > 0)
          out.push(
            rule('input', `iifname "${lan}" ${proto} dport @${set} accept`, [
              ...iifname(lan),
              ...dportInSet(proto, set, SET_IDS[set as keyof typeof SET_IDS]),
              accept,
            ]),
          );
      }
    }
    for (const [proto, set, ports] of services) {
      if (ports.length > 0)
        out.push(
          rule('input', `${proto} dport @${set} drop`, [
            ...dportInSet(proto, set, SET_IDS[set as keyof typeof SET_IDS]),
            drop,
          ]),
        );
    }
  }

  out.push(
    rule('forward', 'ct state invalid drop', [...ctStateAny(['invalid']), drop]),
    rule(
      'forward',
      `ct state new ip saddr ${plan.lan} log prefix "${plan.logPrefix}" group ${plan.logGroup}`,
      [...ctStateAny(['new']), ...ipAddrIn(F, 'saddr', plan.lan), logToGroup(plan.logGroup, plan.logPrefix)],
    ),
    rule('forward', 'ct state established,related accept', [
      ...ctStateAny(['established', 'related']),
      accept,
    ]),
    rule('forward', `ip saddr @${ALLOWED_SET} accept`, [
      ...ipAddrInSet(F, 'saddr', ALLOWED_SET, SET_IDS[ALLOWED_SET]),
      accept,
    ]),
    rule('forward', `ip saddr ${plan.servers} accept`, [...ipAddrIn(F, 'saddr', plan.servers), accept]),
  );
  for (const up of plan.uplinkInterfaces) {
    for (const lan of plan.lanInterfaces) {
      out.push(
        rule('forward', `iifname "${up}" oifname "${lan}" accept`, [...iifname(up), ...oifname(lan), accept]),
      );
    }
  }
  for (const up of plan.uplinkInterfaces)
    out.push(rule('postrouting', `oifname "${up}" masquerade`, [...oifname(up), masquerade]));
  return out;
}

function allowedKeys(ips: readonly string[]): Buffer[] {
  return ips.map(ipv4Bytes);
}

/**
 * One atomic transaction that (re)creates the whole table — `add table` (so the delete cannot
 * fail on a first start), `delete table`, then everything — with the allowed set already
 * filled, so a restart never opens a window where allowed machines are cut off.
 */
export function rulesetMessages(plan: RulesetPlan, allowedIps: readonly string[]): OutgoingMessage[] {
  const out: OutgoingMessage[] = [
    newTable({ family: F, name: plan.table }),
    delTable(F, plan.table),
    newTable({ family: F, name: plan.table }),
  ];
  for (const s of expectedSets(plan)) {
    out.push(newSet(s));
    const keys =
      s.name === ALLOWED_SET
        ? allowedKeys(allowedIps)
        : (s.name === LAN_UDP_SET ? plan.udpPorts : plan.tcpPorts).map(be16Bytes);
    if (keys.length > 0)
      out.push(...newSetElements({ family: F, table: plan.table, set: s.name, setId: s.id, keys }));
  }
  for (const c of expectedChains(plan)) out.push(newChain(c));
  for (const r of expectedRules(plan)) out.push(newRule(r, r.text));
  return out;
}

/** The set replacement of spec §11.1: flush and refill in one transaction (the original swapped ipsets). */
export function allowedSetMessages(plan: RulesetPlan, allowedIps: readonly string[]): OutgoingMessage[] {
  const keys = allowedKeys(allowedIps);
  return [
    flushSet(F, plan.table, ALLOWED_SET),
    ...(keys.length > 0 ? newSetElements({ family: F, table: plan.table, set: ALLOWED_SET, keys }) : []),
  ];
}

/** `gatehouse fw down`: removes the table if present; never touches another table. */
export function removeRulesetMessages(table: string): OutgoingMessage[] {
  return [newTable({ family: F, name: table }), delTable(F, table)];
}
