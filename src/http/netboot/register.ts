import { GatehouseError } from '../../errors.js';
import type { ServiceContext } from '../../service.js';
import type { RegisterArgs } from './policy.js';

/** MDB `register(hostname, mac, rfs, hfs, room, mtype)` → the allocated IP (spec §2.4). */
export type Registrar = (args: RegisterArgs) => Promise<string>;

interface HasRegister {
  register(args: RegisterArgs): Promise<string>;
}

function hasRegister(s: unknown): s is HasRegister {
  return typeof (s as { register?: unknown }).register === 'function';
}

/**
 * Registration through the MDB service started before netboot. Looked up per call so the order
 * of service start-up does not matter.
 */
export function mdbRegistrar(ctx: ServiceContext): Registrar {
  return async (args) => {
    const mdb = ctx.services.find((s) => s.name === 'mdb');
    if (!mdb || !hasRegister(mdb)) {
      throw new GatehouseError(
        'GH_INTERNAL',
        'MDB registration is not available in this Gatehouse (no mdb service)',
      );
    }
    return mdb.register(args);
  };
}
