import os from 'node:os';

/**
 * Whether every floating address is configured on one of this host's interfaces right now.
 * This is what makes a gateway primary: keepalived adds the addresses when it becomes MASTER
 * and removes them otherwise, so the rule "never primary without the address" holds whatever
 * the notify hook did or failed to do.
 */
export function holdsAddresses(addresses: readonly string[]): boolean {
  if (addresses.length === 0) return false;
  const here = new Set<string>();
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4') here.add(a.address);
  }
  return addresses.every((a) => here.has(a));
}
