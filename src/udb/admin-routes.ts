import { NotFoundError, ValidationError } from '../errors.js';
import { type AdminApi, ApiError, created, onlyFields, queryObject } from '../http/admin-api/router.js';
import { MdbError } from '../mdb/errors.js';
import type { Store } from '../store/index.js';
import type { UidPool, User, UserGroup } from './model.js';
import { generatePassword } from './password.js';
import { queryUsers, userToDict } from './query.js';
import { listUsers, type NewUser, type UdbTables, type UserPatch, UserWriter } from './users.js';
import type { ReservedLogins } from './validate.js';

const CREATE_FIELDS = [
  'login',
  'firstname',
  'lastname',
  'group',
  'password',
  'shell',
  'ssh_key',
  'uid',
  'id',
] as const;
const EDIT_FIELDS = [
  'firstname',
  'lastname',
  'group',
  'password',
  'shell',
  'ssh_key',
  'login',
  'uid',
  'id',
] as const;
const POOL_FIELDS = ['group', 'base', 'last'] as const;

function readOnly(field: string, why: string): ApiError {
  return new ApiError(400, 'GH_VALIDATION', `${field} is read-only: ${why}`, {
    fields: { [field]: ['This field is read-only.'] },
  });
}

/** Lookup errors on list filters are the caller's mistake: 400 with the original text. */
function filtersOf(query: URLSearchParams): Record<string, unknown> {
  return queryObject(query);
}

function runQuery(users: User[], filters: Record<string, unknown>): User[] {
  try {
    return queryUsers(users, filters);
  } catch (e) {
    if (e instanceof MdbError) throw new ApiError(400, 'GH_VALIDATION', `${e.exnType}: ${e.message}`);
    throw e;
  }
}

function intField(body: Record<string, unknown>, field: string): number | undefined {
  const v = body[field];
  if (v === undefined) return undefined;
  if (!Number.isSafeInteger(v) || (v as number) < 0) {
    throw new ValidationError(`${field} must be a non-negative integer`, {
      fields: { [field]: ['Enter a whole number.'] },
    });
  }
  return v as number;
}

/**
 * UDB resources of the admin API (spec §7.4): users CRUD with the original admin's rules —
 * `uid` (and the internal `id`) read-only on create, `uid`, `id` and `login` read-only on
 * edit — and the UID pools. Every write goes through UserWriter, so validation, reserved
 * logins, uid allocation and the udbsync broadcast are those of every other writer.
 * Passwords are shown, as the original admin showed them (organizers read them back).
 * Organizers list and read users and pools and edit non-root users; creating, deleting,
 * touching a root and changing pools are for roots (the original Django permissions).
 */
export function addUdbRoutes(
  api: AdminApi,
  store: Store,
  tables: UdbTables,
  reserved: () => ReservedLogins,
): AdminApi {
  const writer = (fn: (w: UserWriter) => User) =>
    store.write((tx) => userToDict(fn(new UserWriter(tx, tables, reserved()))));
  return api
    .get(
      '/api/v1/users',
      ({ query }) => {
        const users = store.read((tx) => listUsers(tx, tables));
        const items = runQuery(users, filtersOf(query));
        return { items, count: items.length };
      },
      'orga',
    )
    .post('/api/v1/users', async ({ body }) => {
      const input = onlyFields(await body(), CREATE_FIELDS);
      if (input.uid !== undefined) throw readOnly('uid', "it is allocated from the group's UID pool");
      if (input.id !== undefined) throw readOnly('id', 'it is allocated by the store');
      const password =
        input.password === undefined || input.password === '' ? generatePassword(8) : input.password;
      const user: NewUser = {
        login: input.login as string,
        firstname: input.firstname as string,
        lastname: input.lastname as string,
        group: input.group as UserGroup,
        password: password as string,
        ...(input.shell !== undefined ? { shell: input.shell as string } : {}),
        ...(input.ssh_key !== undefined ? { ssh_key: input.ssh_key as string | null } : {}),
      };
      return created(await writer((w) => w.create(user)));
    })
    .get(
      '/api/v1/users/:login',
      ({ params }) => {
        const user = store.read((tx) => tx.get(tables.users, params.login!));
        if (!user) throw new NotFoundError(`no user with login ${params.login}`);
        return userToDict(user);
      },
      'orga',
    )
    .patch(
      '/api/v1/users/:login',
      async ({ params, body, principal }) => {
        const input = onlyFields(await body(), EDIT_FIELDS);
        const login = params.login!;
        const current = store.read((tx) => tx.get(tables.users, login));
        if (!current) throw new NotFoundError(`no user with login ${login}`);
        // Organizers edit any user except roots, and cannot make one (spec §7.4).
        if (principal.role !== 'root' && (current.group === 'root' || input.group === 'root')) {
          throw new ApiError(
            403,
            'GH_FORBIDDEN',
            `only roots can edit roots or make one; ask a root to change ${login}`,
          );
        }
        // A client may send the whole record back: unchanged read-only fields are fine.
        if (input.login !== undefined && input.login !== current.login) {
          throw readOnly('login', 'create a new user and delete this one to rename');
        }
        if (input.uid !== undefined && input.uid !== current.uid)
          throw readOnly('uid', 'uids are never reassigned');
        if (input.id !== undefined && input.id !== current.id) throw readOnly('id', 'it is the primary key');
        const patch: UserPatch = {};
        for (const f of ['firstname', 'lastname', 'group', 'password', 'shell', 'ssh_key'] as const) {
          if (input[f] !== undefined) (patch as Record<string, unknown>)[f] = input[f];
        }
        return writer((w) => w.update(login, patch));
      },
      'orga',
    )
    .delete('/api/v1/users/:login', ({ params }) => writer((w) => w.delete(params.login!)))

    .get(
      '/api/v1/uid-pools',
      () => {
        const items = store
          .read((tx) => tx.values(tables.pools))
          .sort((a, b) => (a.group < b.group ? -1 : 1));
        return { items, count: items.length };
      },
      'orga',
    )
    .get(
      '/api/v1/uid-pools/:group',
      ({ params }) => {
        const pool = store.read((tx) => tx.get(tables.pools, params.group!));
        if (!pool) throw new NotFoundError(`no UID pool for group ${params.group}`);
        return pool;
      },
      'orga',
    )
    .patch('/api/v1/uid-pools/:group', async ({ params, body }) => {
      const input = onlyFields(await body(), POOL_FIELDS);
      if (input.group !== undefined && input.group !== params.group)
        throw readOnly('group', 'each group has one pool');
      const base = intField(input, 'base');
      const last = intField(input, 'last');
      return store.write((tx) => {
        const pool = tx.get(tables.pools, params.group!);
        if (!pool) throw new NotFoundError(`no UID pool for group ${params.group}`);
        const next: UidPool = {
          ...pool,
          ...(base !== undefined ? { base } : {}),
          ...(last !== undefined ? { last } : {}),
        };
        const clash = tx.values(tables.pools).find((p) => p.group !== next.group && p.base === next.base);
        if (clash) {
          throw new ValidationError(`base ${next.base} is already the base of the ${clash.group} pool`, {
            fields: { base: ['UID Pool with this Base UID already exists.'] },
          });
        }
        tx.put(tables.pools, next.group, next);
        return next;
      });
    });
}
