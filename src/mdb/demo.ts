import type { Store } from '../store/index.js';
import { createMachine } from './machines.js';
import { createSwitch } from './switches.js';
import { T } from './tables.js';

const SEEDED = 'demo.seeded';

/**
 * Demo machines (spec §0.2): gw with every service alias, the RHFS server carrying rfs0/hfs0,
 * four contestant machines and one switch. Written once, on the first start of an empty store
 * with `demo.seed: true`; never again (deleting every machine later does not bring them back).
 */
export const DEMO_MACHINES: Array<Record<string, unknown>> = [
  {
    hostname: 'gw',
    aliases: 'mdb,mdbsync,ns,netboot,udb,udbsync,presencesync,ntp,sso',
    ip: '192.168.1.254',
    mac: '11:22:33:44:55:66',
    rfs: 0,
    hfs: 0,
    mtype: 'service',
    room: 'pasteur',
  },
  {
    hostname: 'rhfs01',
    aliases: 'rhfs,rhfs0,hfs0,rfs0',
    ip: '192.168.1.10',
    mac: '11:22:33:44:55:77',
    rfs: 0,
    hfs: 0,
    mtype: 'service',
    room: 'pasteur',
  },
  ...[1, 2, 3, 4].map((n) => ({
    hostname: `pas-r01p0${n}`,
    aliases: '',
    mac: `52:54:00:00:01:0${n}`,
    rfs: 0,
    hfs: 0,
    mtype: 'user',
    room: 'pasteur',
  })),
];

export const DEMO_SWITCHES: Array<Record<string, unknown>> = [
  { name: 'sw-pasteur-1', chassis: '68:b5:99:9f:45:40', room: 'pasteur', rfs: 0, hfs: 0 },
];

/** Seeds the demo data when allowed; returns how many machines were written. */
export async function seedDemo(store: Store): Promise<number> {
  return store.write((tx) => {
    if (tx.get(T.meta, SEEDED) !== undefined || tx.count(T.machines) > 0) return 0;
    for (const m of DEMO_MACHINES) createMachine(tx, m);
    for (const s of DEMO_SWITCHES) createSwitch(tx, s);
    tx.put(T.meta, SEEDED, new Date().toISOString());
    return DEMO_MACHINES.length;
  });
}
