import { errorMessage } from '../../errors.js';
import { registerMachine } from '../../mdb/machines.js';
import { toRpcException } from '../../mdb/rpc.js';
import type { Store } from '../../store/index.js';
import type { RegisterArgs } from './policy.js';

/** MDB `register(hostname, mac, rfs, hfs, room, mtype)` → the allocated IP (spec §2.4). */
export type Registrar = (args: RegisterArgs) => Promise<string>;

/** A registration failure carrying the text the original netboot showed: the remote exception's message. */
export class RegistrationFailed extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RegistrationFailed';
  }
}

/**
 * MDB's `register` run in-process, in one store transaction (a failed validation still commits
 * the consumed address, as the original did). Errors carry the message the RPC client would
 * have raised: `self registration is disabled`, `unable to allocate an IP address`, the
 * validation dict text…
 */
export function mdbRegistrar(store: Store): Registrar {
  return async (args) => {
    let outcome: ReturnType<typeof registerMachine>;
    try {
      outcome = await store.write((tx) => registerMachine(tx, args));
    } catch (e) {
      throw new RegistrationFailed(errorMessage(toRpcException(e)), { cause: e });
    }
    if (!outcome.ok)
      throw new RegistrationFailed(errorMessage(toRpcException(outcome.error)), { cause: outcome.error });
    return outcome.machine.ip;
  };
}
