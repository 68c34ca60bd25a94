import { GatehouseError, NotFoundError, ValidationError } from '../errors.js';
import type { ReadTx, Store, Table, WriteTx } from '../store/index.js';
import { type UidPool, type User, type UserGroup, udbMetaTable, uidPoolsTable, usersTable } from './model.js';
import { DEFAULT_SHELL, type ReservedLogins, validateUser } from './validate.js';

export interface UdbTables {
  users: Table<User>;
  pools: Table<UidPool>;
  meta: Table<number>;
}

export function udbTables(store: Store): UdbTables {
  return { users: usersTable(store), pools: uidPoolsTable(store), meta: udbMetaTable(store) };
}

const LAST_ID = 'lastId';

/** A write refused because of the store's current state (admin API: 409). */
export class UdbConflictError extends GatehouseError {
  readonly status = 409;
  constructor(code: string, message: string) {
    super(code, message);
    this.name = 'UdbConflictError';
  }
}

/** Original ordering (spec §7.1): group, then login; `orga` < `root` < `user`. */
export function compareUsers(a: User, b: User): number {
  if (a.group !== b.group) return a.group < b.group ? -1 : 1;
  return a.login < b.login ? -1 : a.login > b.login ? 1 : 0;
}

/** Every user in the original order. */
export function listUsers(tx: ReadTx, tables: Pick<UdbTables, 'users'>): User[] {
  return tx.values(tables.users).sort(compareUsers);
}

/** What a caller supplies to create a user; the rest is defaulted or allocated. */
export interface NewUser {
  login: string;
  firstname: string;
  lastname: string;
  group: UserGroup;
  password: string;
  shell?: string;
  ssh_key?: string | null;
  /** Explicit primary key (jsonimport); allocated when absent. */
  id?: number;
}

/** Fields an edit may change: never `login`, `uid` or `id` (spec §7.4). */
export type UserPatch = Partial<
  Pick<User, 'firstname' | 'lastname' | 'group' | 'password' | 'shell' | 'ssh_key'>
>;

/**
 * The one place users are written. Works inside a single store transaction: uid and id
 * counters move in the same transaction as the row that uses them (spec §13), and every check
 * (validation, reserved logins, uniqueness of login, uid and id) happens before anything is
 * put, so a throw leaves the transaction clean for the store to discard.
 */
export class UserWriter {
  private byUid: Map<number, string> | undefined;
  private byId: Map<number, string> | undefined;

  constructor(
    private readonly tx: WriteTx,
    private readonly tables: UdbTables,
    private readonly reserved: ReservedLogins,
  ) {}

  get(login: string): User | undefined {
    return this.tx.get(this.tables.users, login);
  }

  /**
   * Creates a user; throws ValidationError when the login exists or anything is invalid. With
   * `replaceSameId`, a user already holding `input.id` is replaced (jsonimport saves with an
   * explicit primary key, which overwrites that row in the original); it gets a fresh uid.
   */
  create(input: NewUser, opts: { replaceSameId?: boolean } = {}): User {
    const id = input.id ?? this.lastId() + 1;
    const holder = this.ids().get(id);
    const replaced = opts.replaceSameId && holder !== undefined ? this.get(holder) : undefined;
    if (holder !== undefined && !replaced) {
      throw new ValidationError(`id ${id} is already used by user ${holder}`, { fields: { id: ['taken'] } });
    }
    if (typeof input.login === 'string' && input.login !== replaced?.login && this.get(input.login)) {
      throw new ValidationError(`a user with login ${input.login} already exists`, {
        fields: { login: ['User with this Login already exists.'] },
      });
    }
    const draft: User = {
      login: input.login,
      firstname: input.firstname,
      lastname: input.lastname,
      // Validated below with everything else; the placeholder keeps validation messages complete.
      uid: 1,
      group: input.group,
      password: input.password,
      shell: input.shell ?? DEFAULT_SHELL,
      ssh_key: input.ssh_key ?? null,
      id,
    };
    validateUser(draft, this.reserved);
    const { uid, pool } = this.nextUid(draft.group);
    const user = { ...draft, uid };
    if (replaced) {
      if (replaced.login !== user.login) this.tx.delete(this.tables.users, replaced.login);
      this.uids().delete(replaced.uid);
    }
    this.tx.put(this.tables.pools, pool.group, pool);
    this.tx.put(this.tables.meta, LAST_ID, Math.max(this.lastId(), id));
    this.tx.put(this.tables.users, user.login, user);
    this.ids().set(id, user.login);
    this.uids().set(uid, user.login);
    return user;
  }

  /** Applies `patch` to an existing user (login, uid and id never change). */
  update(login: string, patch: UserPatch): User {
    const before = this.get(login);
    if (!before) throw new NotFoundError(`no user with login ${login}`);
    const user: User = { ...before, ...definedOnly(patch) };
    validateUser(user, this.reserved);
    this.tx.put(this.tables.users, login, user);
    return user;
  }

  /**
   * Writes the record unchanged. batchimport saves every row once more, which the original
   * broadcast to udbsync even for ignored users (spec §7.6); this keeps that message.
   */
  touch(login: string): User {
    return this.update(login, {});
  }

  delete(login: string): User {
    const before = this.get(login);
    if (!before) throw new NotFoundError(`no user with login ${login}`);
    this.tx.delete(this.tables.users, login);
    this.ids().delete(before.id);
    this.uids().delete(before.uid);
    return before;
  }

  /** The user whose primary key is `id`, if any. */
  loginOfId(id: number): string | undefined {
    return this.ids().get(id);
  }

  private nextUid(group: UserGroup): { uid: number; pool: UidPool } {
    const current = this.tx.get(this.tables.pools, group);
    if (!current) {
      throw new ValidationError(
        `there is no UID pool for group ${group}; groups with a pool: user, orga, root`,
      );
    }
    const pool = { ...current, last: current.last + 1 };
    const uid = pool.base + pool.last;
    const owner = this.uids().get(uid);
    if (owner !== undefined) {
      throw new UdbConflictError(
        'GH_UDB_UID_TAKEN',
        `uid ${uid} (pool ${group}: base ${pool.base} + last ${pool.last}) is already used by ${owner}; raise the pool's last counter`,
      );
    }
    return { uid, pool };
  }

  private lastId(): number {
    return this.tx.get(this.tables.meta, LAST_ID) ?? 0;
  }

  private uids(): Map<number, string> {
    if (!this.byUid) this.loadIndexes();
    return this.byUid!;
  }

  private ids(): Map<number, string> {
    if (!this.byId) this.loadIndexes();
    return this.byId!;
  }

  /** One scan per transaction: batch imports reuse the maps for every row. */
  private loadIndexes(): void {
    this.byUid = new Map();
    this.byId = new Map();
    for (const u of this.tx.values(this.tables.users)) {
      this.byUid.set(u.uid, u.login);
      this.byId.set(u.id, u.login);
    }
  }
}

function definedOnly<T extends object>(patch: T): Partial<T> {
  return Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as Partial<T>;
}
