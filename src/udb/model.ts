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

/**
 * `users` keyed by login, `uid_pools` by group. Readers: presence, SSO, firewall. `udb_meta`
 * (not logged) holds UDB's own counters, such as the last `id` handed out.
 */
export const UDB_TABLES = { users: 'users', uidPools: 'uid_pools', meta: 'udb_meta' } as const;

export function usersTable(store: Store): Table<User> {
  return store.table<User>(UDB_TABLES.users);
}

export function uidPoolsTable(store: Store): Table<UidPool> {
  return store.table<UidPool>(UDB_TABLES.uidPools);
}

/** Counters private to UDB; not logged because nothing downstream follows them. */
export function udbMetaTable(store: Store): Table<number> {
  return store.table<number>(UDB_TABLES.meta, { logged: false });
}

/** The initial UID pools (original migration 0003): first user 10001, orga 11001, root 12001. */
export const INITIAL_UID_POOLS: readonly UidPool[] = [
  { group: 'user', base: 10000, last: 0 },
  { group: 'orga', base: 11000, last: 0 },
  { group: 'root', base: 12000, last: 0 },
];
