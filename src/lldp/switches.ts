import type { Switch } from '../mdb/model.js';
import { createSwitch } from '../mdb/switches.js';
import type { Store } from '../store/index.js';
import type { LldpApiDeps } from './api.js';

/**
 * Creates the MDB switch for the LLDP admin API with MDB's own validation (chassis pattern and
 * uniqueness, room choices, integer rfs/hfs; chassis lowercased), in one store transaction.
 */
export function mdbSwitchCreator(store: Store): LldpApiDeps['createSwitch'] {
  return (fields): Promise<Switch> => store.write((tx) => createSwitch(tx, fields));
}
