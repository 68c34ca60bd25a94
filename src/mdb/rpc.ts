import type { RpcMethod } from '../rpc/server.js';
import { bindArgs } from '../rpc/args.js';
import { RpcException } from '../rpc/errors.js';
import type { Store } from '../store/index.js';
import { ansibleInventory } from './ansible.js';
import { ModelValidationError } from './django-fields.js';
import { MdbError } from './errors.js';
import { listMachines, queryMachines, registerMachine } from './machines.js';
import { querySwitches } from './switches.js';

/** Domain errors as the original Python exceptions. */
export function toRpcException(e: unknown): unknown {
  if (e instanceof ModelValidationError) return new RpcException('ValidationError', e.pyMessage);
  if (e instanceof MdbError) return new RpcException(e.exnType, e.message);
  return e;
}

async function guarded<R>(fn: () => R | Promise<R>): Promise<R> {
  try {
    return await fn();
  } catch (e) {
    throw toRpcException(e);
  }
}

/**
 * `MDBServer` (spec §2.4): four public methods, no secret. `register` writes through the store
 * so the mdbsync feed publishes it after commit.
 */
export function mdbRpcMethods(store: Store): Record<string, RpcMethod> {
  return {
    query: {
      auth: false,
      call: (args, kwargs) =>
        guarded(() => {
          const { extra } = bindArgs({ name: 'query', params: [], varKwargs: true }, args, kwargs);
          return store.read((tx) => queryMachines(tx, extra));
        }),
    },
    switches: {
      auth: false,
      call: (args, kwargs) =>
        guarded(() => {
          const { extra } = bindArgs({ name: 'switches', params: [], varKwargs: true }, args, kwargs);
          return store.read((tx) => querySwitches(tx, extra));
        }),
    },
    register: {
      auth: false,
      call: (args, kwargs) =>
        guarded(async () => {
          const { values } = bindArgs(
            { name: 'register', params: ['hostname', 'mac', 'rfs', 'hfs', 'room', 'mtype'] },
            args,
            kwargs,
          );
          const outcome = await store.write((tx) =>
            registerMachine(tx, {
              hostname: values.hostname,
              mac: values.mac,
              rfs: values.rfs,
              hfs: values.hfs,
              room: values.room,
              mtype: values.mtype,
            }),
          );
          if (!outcome.ok) throw outcome.error;
          return outcome.machine.ip;
        }),
    },
    ansible: {
      auth: false,
      call: (args, kwargs) =>
        guarded(() => {
          bindArgs({ name: 'ansible', params: [] }, args, kwargs);
          return store.read((tx) => ansibleInventory(listMachines(tx)));
        }),
    },
  };
}
