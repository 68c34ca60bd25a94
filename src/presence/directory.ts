import { machinesTable } from '../mdb/model.js';
import type { Store } from '../store/index.js';
import { usersTable } from '../udb/model.js';
import type { PresenceDirectory } from './rules.js';

/**
 * The presencesync rules' view of MDB and UDB, read from the store at login time (the original
 * made one `MDB.query(hostname=…)` and one `UDB.query(login=…)` RPC per login request). Both
 * tables are keyed by those fields, so a query returns zero or one row.
 */
export function storeDirectory(store: Store): PresenceDirectory {
  const machines = machinesTable(store);
  const users = usersTable(store);
  return {
    machines: (hostname) => {
      const m = store.read((tx) => tx.get(machines, hostname));
      return m ? [m] : [];
    },
    users: (login) => {
      const u = store.read((tx) => tx.get(users, login));
      return u ? [u] : [];
    },
  };
}
