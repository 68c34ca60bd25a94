import { compileFilters, type LookupModel } from '../mdb/lookups.js';
import type { User } from './model.js';
import { compareUsers } from './users.js';

/**
 * UDB's filter rules (spec §7.3, `UDBServer.get_users`): the part of a key before the first
 * `_` must be one of these. `ssh_key` splits to `ssh`, so it is refused like in the original
 * (bug-compatible, documented in docs/udb.md).
 */
export const USER_LOOKUPS: LookupModel = {
  allowed: ['login', 'uid', 'group', 'shell', 'ssh_key', 'id'],
  fields: {
    login: 'char',
    firstname: 'char',
    lastname: 'char',
    uid: 'int',
    group: 'char',
    password: 'char',
    shell: 'char',
    ssh_key: 'char',
    id: 'int',
  },
};

/** `User.to_dict()` with the original key order, password included. */
export function userToDict(u: User): User {
  return {
    login: u.login,
    firstname: u.firstname,
    lastname: u.lastname,
    uid: u.uid,
    group: u.group,
    password: u.password,
    shell: u.shell,
    ssh_key: u.ssh_key ?? null,
    id: u.id,
  };
}

export type PublicUser = Omit<User, 'password'>;

/** `query`: the dict without its `password` key (the remaining order is unchanged). */
export function publicUser(u: User): PublicUser {
  const { password: _password, ...rest } = userToDict(u);
  return rest;
}

/**
 * Users matching Django-style `filters`, in the original order (group, then login). Throws
 * the lookup layer's errors (`ValueError` for a refused key, `FieldError`, …), which the RPC
 * server reports under their Python class names.
 */
export function queryUsers(users: readonly User[], filters: Record<string, unknown>): User[] {
  const matches = compileFilters<Record<string, unknown>>(USER_LOOKUPS, filters);
  return users
    .filter((u) => matches(u as unknown as Record<string, unknown>))
    .sort(compareUsers)
    .map(userToDict);
}
