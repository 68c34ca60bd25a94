import type { Machine } from './model.js';

/**
 * `ansible()` (spec §2.4): a dynamic inventory with one group per machine type and per room
 * (always all seven, `cluster` shared by both, so a cluster node in room cluster is listed
 * twice) and every machine's hostvars; `aliases` split on commas (`[""]` when empty).
 */
export function ansibleInventory(machines: readonly Machine[]): Record<string, unknown> {
  const groups: Record<string, { hosts: string[] }> = {};
  for (const g of ['orga', 'user', 'cluster', 'service', 'pasteur', 'alt', 'other'])
    groups[g] = { hosts: [] };
  const hostvars: Record<string, unknown> = {};
  for (const m of machines) {
    groups[m.mtype]?.hosts.push(m.hostname);
    groups[m.room]?.hosts.push(m.hostname);
    hostvars[m.hostname] = {
      mac: m.mac,
      rfs: m.rfs,
      hfs: m.hfs,
      room: m.room,
      aliases: m.aliases.split(','),
      is_faulty: m.is_faulty,
      is_faulty_details: m.is_faulty_details,
    };
  }
  return { ...groups, _meta: { hostvars } };
}
