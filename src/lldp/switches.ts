import { GatehouseError } from '../errors.js';
import type { Switch } from '../mdb/model.js';
import type { ServiceContext } from '../service.js';
import type { LldpApiDeps } from './api.js';

/** Creates MDB switches for the LLDP admin API through MDB's own validation. */
export function mdbSwitchCreator(_ctx: ServiceContext): LldpApiDeps['createSwitch'] {
  return async (): Promise<Switch> => {
    throw new GatehouseError('GH_INTERNAL', 'MDB switch creation is not wired yet');
  };
}
