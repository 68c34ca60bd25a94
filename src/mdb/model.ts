import type { Store, Table } from '../store/index.js';

export const MACHINE_TYPES = ['user', 'orga', 'cluster', 'service'] as const;
export type MachineType = (typeof MACHINE_TYPES)[number];
export const ROOMS = ['pasteur', 'alt', 'cluster', 'other'] as const;
export type Room = (typeof ROOMS)[number];

/**
 * A machine exactly as the original `Machine.to_dict()` serialises it (spec §2.1): this is the
 * record of the `machines` table, of RPC answers and of the mdbsync stream.
 */
export interface Machine {
  hostname: string;
  /** Comma-separated, no spaces; may be empty. */
  aliases: string;
  ip: string;
  /** Lowercase `aa:bb:cc:dd:ee:ff`. */
  mac: string;
  rfs: number;
  hfs: number;
  mtype: MachineType;
  room: Room;
  is_faulty: boolean;
  is_faulty_details: string;
}

export interface Switch {
  name: string;
  /** Lowercase MAC-like chassis id; unique. */
  chassis: string;
  room: Room;
  rfs: number;
  hfs: number;
}

export interface IpPool {
  mtype: MachineType;
  network: string;
  last: number;
}

export interface VolatileSetting {
  key: string;
  value_bool: boolean | null;
  value_str: string | null;
  value_int: number | null;
}

/**
 * Table names and keys are a contract between MDB (the only writer) and its readers (DNS,
 * DHCP, netboot, SSO, firewall): `machines` keyed by hostname, `switches` by chassis,
 * `ip_pools` by mtype, `settings` by an internal id.
 */
export const MDB_TABLES = {
  machines: 'machines',
  switches: 'switches',
  ipPools: 'ip_pools',
  settings: 'settings',
} as const;

export function machinesTable(store: Store): Table<Machine> {
  return store.table<Machine>(MDB_TABLES.machines);
}
export function switchesTable(store: Store): Table<Switch> {
  return store.table<Switch>(MDB_TABLES.switches);
}
