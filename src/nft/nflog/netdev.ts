import { FAMILIES } from '../tables/constants.js';
import type { NftClient } from '../tables/client.js';
import { etherType, logToGroup } from '../tables/match.js';
import { delTable, newChain, newRule, newTable } from '../tables/messages.js';
import type { OutgoingMessage } from '../netlink/socket.js';

/**
 * A `netdev` table with one ingress chain per device and the rule
 * `ether type <etherType> log group <group>`: the way to receive link-layer frames (LLDP:
 * 0x88cc) without AF_PACKET, through an NflogReader bound to the same group.
 */
export interface NetdevLogSpec {
  /** Table name, e.g. `gatehouse_lldp`; the table is owned entirely by its caller. */
  table: string;
  devices: readonly string[];
  etherType: number;
  group: number;
  prefix?: string;
  priority?: number;
}

export function netdevChainName(device: string): string {
  return `ingress_${device}`;
}

/** One atomic batch that (re)creates the table: idempotent, touches no other table. */
export function netdevLogMessages(spec: NetdevLogSpec): OutgoingMessage[] {
  const f = FAMILIES.netdev;
  const out: OutgoingMessage[] = [
    newTable({ family: f, name: spec.table }),
    delTable(f, spec.table),
    newTable({ family: f, name: spec.table }),
  ];
  for (const dev of spec.devices) {
    const chain = netdevChainName(dev);
    out.push(
      newChain({
        family: f,
        table: spec.table,
        name: chain,
        type: 'filter',
        hook: { hook: 'ingress', priority: spec.priority ?? 0, device: dev },
      }),
    );
    out.push(
      newRule(
        {
          family: f,
          table: spec.table,
          chain,
          exprs: [...etherType(spec.etherType), logToGroup(spec.group, spec.prefix)],
        },
        `ether type ${spec.etherType} log group ${spec.group}`,
      ),
    );
  }
  return out;
}

/** Removes the table if it exists (add-then-delete never fails on a missing table). */
export function removeTableMessages(family: number, table: string): OutgoingMessage[] {
  return [newTable({ family, name: table }), delTable(family, table)];
}

export function programNetdevLog(client: NftClient, spec: NetdevLogSpec): Promise<void> {
  return client.commit(netdevLogMessages(spec));
}

export function removeNetdevLog(client: NftClient, table: string): Promise<void> {
  return client.commit(removeTableMessages(FAMILIES.netdev, table));
}
