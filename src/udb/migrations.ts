import type { Migration, Table } from '../store/index.js';
import { INITIAL_UID_POOLS, UDB_TABLES, type UidPool } from './model.js';

const uidPools: Table<UidPool> = { name: UDB_TABLES.uidPools, logged: true };

/** UDB's store migrations, in order; ids are never edited once released. */
export const udbMigrations: Migration[] = [
  {
    id: 'udb-0001-initial',
    up(tx) {
      for (const pool of INITIAL_UID_POOLS) {
        if (!tx.has(uidPools, pool.group)) tx.put(uidPools, pool.group, { ...pool });
      }
    },
  },
];
