import { GatehouseError } from '../errors.js';

/** A write reached a standby gateway; HTTP callers get 503 (retry on the floating address). */
export class StandbyError extends GatehouseError {
  readonly status = 503;
  constructor(node: string, why: string) {
    super(
      'GH_HA_STANDBY',
      `gateway ${node} is the standby (${why}) and accepts no writes; retry on the floating address, which the primary holds`,
      { node },
    );
    this.name = 'StandbyError';
  }
}

/** A write refused because this gateway is the standby (answer 503, not the usual error). */
export function isStandbyRefusal(e: unknown): e is StandbyError {
  return e instanceof GatehouseError && e.code === 'GH_HA_STANDBY';
}
