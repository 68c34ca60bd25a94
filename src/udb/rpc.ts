import { MdbError } from '../mdb/errors.js';
import { bindArgs } from '../rpc/args.js';
import { RpcException } from '../rpc/errors.js';
import type { RpcMethod } from '../rpc/server.js';
import type { User } from './model.js';
import { publicUser, queryUsers } from './query.js';

/** Reads the current users (one consistent store read per call). */
export type UsersReader = () => User[];

function filtered(name: string, read: UsersReader, args: unknown[], kwargs: Record<string, unknown>): User[] {
  // `def query(self, **kwargs)`: positional arguments are a TypeError, any keyword is a filter.
  const { extra } = bindArgs({ name, params: [], varKwargs: true }, args, kwargs);
  try {
    return queryUsers(read(), extra);
  } catch (e) {
    // Lookup errors carry the Python class the original raised (ValueError, FieldError…).
    if (e instanceof MdbError) throw new RpcException(e.exnType, e.message);
    throw e;
  }
}

/**
 * The `UDBServer` methods (spec §7.3): `query` is public and never returns passwords;
 * `query_private` needs a token signed with `secrets.udbClientAuth` and returns them.
 */
export function udbRpcMethods(read: UsersReader): Record<string, RpcMethod> {
  return {
    query: { auth: false, call: (args, kwargs) => filtered('query', read, args, kwargs).map(publicUser) },
    query_private: { auth: true, call: (args, kwargs) => filtered('query_private', read, args, kwargs) },
  };
}
