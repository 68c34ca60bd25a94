import type { Table } from '../store/index.js';
import {
  type IpPool,
  MDB_INDEX_TABLES,
  MDB_TABLES,
  type Machine,
  type StoredSetting,
  type Switch,
} from './model.js';

/**
 * Table handles for the domain functions, which work on a ReadTx/WriteTx without a Store in
 * hand (a handle is just the name; `store.table()` returns an equal object).
 */
export const T = {
  machines: { name: MDB_TABLES.machines, logged: true } as Table<Machine>,
  switches: { name: MDB_TABLES.switches, logged: true } as Table<Switch>,
  pools: { name: MDB_TABLES.ipPools, logged: true } as Table<IpPool>,
  settings: { name: MDB_TABLES.settings, logged: true } as Table<StoredSetting>,
  byIp: { name: MDB_INDEX_TABLES.byIp, logged: false } as Table<string>,
  byMac: { name: MDB_INDEX_TABLES.byMac, logged: false } as Table<string>,
  /** Small bookkeeping rows of the MDB module (demo seeded, settings id counter). */
  meta: { name: 'mdb_meta', logged: false } as Table<unknown>,
};
