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

export function ipPoolsTable(store: Store): Table<IpPool> {
  return store.table<IpPool>(MDB_TABLES.ipPools);
}

/** Settings rows keyed by an internal numeric id (the original `key` is not unique). */
export interface StoredSetting extends VolatileSetting {
  id: number;
}
export function settingsTable(store: Store): Table<StoredSetting> {
  return store.table<StoredSetting>(MDB_TABLES.settings);
}

/**
 * Unique indexes of the machines table (ip → hostname, mac → hostname), maintained in the
 * same transaction as every machine write; not logged (they are derived).
 */
export const MDB_INDEX_TABLES = { byIp: 'machines_by_ip', byMac: 'machines_by_mac' } as const;
export function machinesByIpTable(store: Store): Table<string> {
  return store.table<string>(MDB_INDEX_TABLES.byIp, { logged: false });
}
export function machinesByMacTable(store: Store): Table<string> {
  return store.table<string>(MDB_INDEX_TABLES.byMac, { logged: false });
}

/** Field order of `Machine.to_dict()`: records are always written in this key order. */
export const MACHINE_FIELDS = [
  'hostname',
  'aliases',
  'ip',
  'mac',
  'rfs',
  'hfs',
  'mtype',
  'room',
  'is_faulty',
  'is_faulty_details',
] as const;
export const SWITCH_FIELDS = ['name', 'chassis', 'room', 'rfs', 'hfs'] as const;

export const SELF_REGISTRATION_KEY = 'allow_self_registration';
