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

/** The HTTP status an error asks for, when it carries one (StandbyError: 503). */
export function statusOfError(e: unknown): number | undefined {
  const s = (e as { status?: unknown } | null)?.status;
  return e instanceof GatehouseError && typeof s === 'number' ? s : undefined;
}
