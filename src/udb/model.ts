import type { Store, Table } from '../store/index.js';

export const USER_GROUPS = ['user', 'orga', 'root'] as const;
export type UserGroup = (typeof USER_GROUPS)[number];

/**
 * A user exactly as the original `User.to_dict()` serialises it (spec §7.1), password
 * included; `query` strips the password, `query_private` and udbsync keep it.
 */
export interface User {
  login: string;
  firstname: string;
  lastname: string;
  uid: number;
  group: UserGroup;
  password: string;
  shell: string;
  ssh_key: string | null;
  id: number;
}

export interface UidPool {
  group: UserGroup;
  base: number;
  last: number;
}

/** `users` keyed by login, `uid_pools` by group. Readers: presence, SSO, firewall. */
export const UDB_TABLES = { users: 'users', uidPools: 'uid_pools' } as const;

export function usersTable(store: Store): Table<User> {
  return store.table<User>(UDB_TABLES.users);
}
