import type { Migration } from '../store/index.js';
import { SELF_REGISTRATION_KEY } from './model.js';
import { createSetting } from './settings.js';
import { T } from './tables.js';

/**
 * The original's migrations 0001–0003 in one step: the three IP pools (no `orga` pool:
 * organizers share the contestant pool) and `allow_self_registration = true`.
 */
export const mdbInitial: Migration = {
  id: 'mdb-0001-initial',
  up(tx) {
    tx.put(T.pools, 'user', { mtype: 'user', network: '192.168.0.0/24', last: 0 });
    tx.put(T.pools, 'service', { mtype: 'service', network: '192.168.1.0/24', last: 0 });
    tx.put(T.pools, 'cluster', { mtype: 'cluster', network: '192.168.2.0/24', last: 0 });
    createSetting(tx, { key: SELF_REGISTRATION_KEY, value_bool: true, value_str: null, value_int: null });
  },
};

export const mdbMigrations: Migration[] = [mdbInitial];
