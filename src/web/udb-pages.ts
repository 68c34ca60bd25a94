import type { GatehouseConfig } from '../config/index.js';
import { ValidationError } from '../errors.js';
import type { ServiceContext } from '../service.js';
import { USER_GROUPS, type User, type UserGroup } from '../udb/model.js';
import { generatePassword } from '../udb/password.js';
import { listUsers, type UserPatch, UserWriter, udbTables } from '../udb/users.js';
import { ReservedLogins } from '../udb/validate.js';
import { type FormProblems, generalProblem, input, pick, problemsOf, select, textarea } from './forms.js';
import { html, type SafeHtml } from './html.js';
import { csrfField, flash, type Viewer } from './layout.js';
import { pageOf, pager, sortBy, sortHeader } from './paging.js';
import type { PageRequest, WebSite } from './site.js';
import { addImportPages } from './udb-import.js';

const SORTABLE = ['uid', 'login', 'group', 'firstname', 'lastname'] as const;
const EDITABLE = ['firstname', 'lastname', 'group', 'password', 'shell', 'ssh_key'] as const;
const userUrl = (login: string) => `/users/${encodeURIComponent(login)}`;
const msg = (path: string, text: string) => `${path}?msg=${encodeURIComponent(text)}`;

/** Search of the original admin: uid, login, group and names. */
export function filterUsers(all: User[], query: URLSearchParams): User[] {
  const group = query.get('group') || undefined;
  const q = (query.get('q') ?? '').trim().toLowerCase();
  return all.filter(
    (u) =>
      (!group || u.group === group) &&
      (!q ||
        String(u.uid).includes(q) ||
        u.login.includes(q) ||
        u.group.includes(q) ||
        u.firstname.toLowerCase().includes(q) ||
        u.lastname.toLowerCase().includes(q)),
  );
}

/** Organizers edit anyone but roots, and cannot make a root (spec §7.4). */
export function mayEdit(viewer: Viewer, user: User): boolean {
  return viewer.role === 'root' || user.group !== 'root';
}

function userList(all: User[], query: URLSearchParams, viewer: Viewer): SafeHtml {
  const filtered = sortBy(filterUsers(all, query), query, SORTABLE, 'group');
  const { rows, page, pages } = pageOf(filtered, query);
  return html`${flash(query.get('msg'))}${viewer.role === 'root' ? html`<p><a href="/users/new" role="button">Add a user</a></p>` : ''}
<form method="get" action="/" class="filters"><input type="search" name="q" value="${query.get('q') ?? ''}" placeholder="uid, login, group or name" aria-label="Search">${select('group', '', USER_GROUPS, query.get('group') ?? '', undefined, { blank: 'any group' })}<button type="submit">Filter</button></form>
${pager('/', query, page, pages, filtered.length)}
<table><thead><tr>${sortHeader('/', query, 'uid', 'UID')}${sortHeader('/', query, 'login', 'Login')}${sortHeader('/', query, 'group', 'Group')}${sortHeader('/', query, 'firstname', 'First name')}${sortHeader('/', query, 'lastname', 'Last name')}</tr></thead><tbody>
${rows.map((u) => html`<tr><td>${u.uid}</td><td><a href="${userUrl(u.login)}">${u.login}</a></td><td>${u.group}</td><td>${u.firstname}</td><td>${u.lastname}</td></tr>\n`)}
</tbody></table>`;
}

function groupChoices(viewer: Viewer): readonly UserGroup[] {
  return viewer.role === 'root' ? USER_GROUPS : USER_GROUPS.filter((g) => g !== 'root');
}

function userForm(
  viewer: Viewer,
  action: string,
  u: Partial<Record<string, unknown>>,
  p: FormProblems | undefined,
  creating: boolean,
): SafeHtml {
  const v = (k: string) => (u[k] === undefined || u[k] === null ? '' : String(u[k]));
  return html`${generalProblem(p)}<form method="post" action="${action}">${csrfField(viewer)}
${input('login', 'Login', v('login'), p, { readonly: !creating, required: true, hint: creating ? 'lowercase letters, digits and _, starting with a letter or _' : 'read-only' })}
${creating ? input('uid', 'UID', 'allocated from the group’s pool on save', p, { readonly: true }) : input('uid', 'UID', v('uid'), p, { readonly: true, hint: 'read-only' })}
<div class="grid2">${input('firstname', 'First name', v('firstname'), p, { required: true })}${input('lastname', 'Last name', v('lastname'), p, { required: true })}</div>
${select('group', 'Group', groupChoices(viewer), v('group') || 'user', p)}
${input('password', 'Password', v('password'), p, { hint: creating ? 'leave empty to generate one' : undefined })}
${input('shell', 'Shell', v('shell') || '/bin/bash', p)}
${textarea('ssh_key', 'SSH public key', v('ssh_key'), p)}
<button type="submit">${creating ? 'Create' : 'Save'}</button></form>`;
}

function userView(u: User, viewer: Viewer, query: URLSearchParams): SafeHtml {
  const editable = mayEdit(viewer, u);
  return html`${flash(query.get('msg'))}<table><tbody>
<tr><th>Login</th><td>${u.login}</td></tr><tr><th>UID</th><td>${u.uid}</td></tr><tr><th>Group</th><td>${u.group}</td></tr>
<tr><th>Name</th><td>${u.firstname} ${u.lastname}</td></tr><tr><th>Password</th><td><code id="password">${u.password}</code></td></tr>
<tr><th>Shell</th><td>${u.shell}</td></tr><tr><th>SSH key</th><td><small>${u.ssh_key ?? ''}</small></td></tr></tbody></table>
${
  editable
    ? html`<p><a href="${userUrl(u.login)}/edit" role="button">Edit</a></p><form method="post" action="${userUrl(u.login)}/new-password">${csrfField(viewer)}<button type="submit" class="secondary">New password</button></form>`
    : html`<p><small>Only roots can edit a root.</small></p>`
}${viewer.role === 'root' ? html`<form method="post" action="${userUrl(u.login)}/delete">${csrfField(viewer)}<button type="submit" class="secondary">Delete ${u.login}</button></form>` : ''}<p><a href="/">Back to the list</a></p>`;
}

/** The user pages of the `udb` host (spec §7.4): every write through UserWriter. */
export function addUdbPages(site: WebSite, ctx: ServiceContext, config: () => GatehouseConfig): void {
  const { store } = ctx;
  const tables = udbTables(store);
  const reserved = () => new ReservedLogins(config().udb);
  const write = <T>(fn: (w: UserWriter) => T) =>
    store.write((tx) => fn(new UserWriter(tx, tables, reserved())));
  const load = (r: PageRequest, forEdit: boolean): User | undefined => {
    const u = store.read((tx) => tx.get(tables.users, r.params.login!));
    if (!u) {
      r.page(
        'No such user',
        html`<p>There is no user <code>${r.params.login}</code>. <a href="/">Back to the list</a></p>`,
        { status: 404 },
      );
      return undefined;
    }
    if (forEdit && !mayEdit(r.viewer, u)) {
      r.page(
        'Not allowed',
        html`<div class="refusal"><p><strong>${u.login}</strong> is a root: only roots can edit roots. Ask a root to change this account.</p></div>`,
        { status: 403 },
      );
      return undefined;
    }
    return u;
  };

  site
    .get('/', (r) =>
      r.page(
        'Users',
        userList(
          store.read((tx) => listUsers(tx, tables)),
          r.query,
          r.viewer,
        ),
      ),
    )
    .get(
      '/users/new',
      (r) => r.page('Add a user', userForm(r.viewer, '/users/new', {}, undefined, true)),
      'root',
    )
    .post(
      '/users/new',
      async (r) => {
        const f = pick(r.form, ['login', ...EDITABLE]);
        try {
          const u = await write((w) =>
            w.create({
              login: String(f.login ?? ''),
              firstname: String(f.firstname ?? ''),
              lastname: String(f.lastname ?? ''),
              group: String(f.group ?? 'user') as UserGroup,
              password: f.password ? String(f.password) : generatePassword(8),
              ...(f.shell ? { shell: String(f.shell) } : {}),
              ssh_key: f.ssh_key ? String(f.ssh_key) : null,
            }),
          );
          r.redirect(msg(userUrl(u.login), `User ${u.login} created with uid ${u.uid}.`));
        } catch (e) {
          r.page('Add a user', userForm(r.viewer, '/users/new', f, problemsOf(e), true), { status: 400 });
        }
      },
      'root',
    )
    .get('/users/:login', (r) => {
      const u = load(r, false);
      if (u) r.page(`User ${u.login}`, userView(u, r.viewer, r.query));
    })
    .get('/users/:login/edit', (r) => {
      const u = load(r, true);
      if (u)
        r.page(`Edit ${u.login}`, userForm(r.viewer, `${userUrl(u.login)}/edit`, { ...u }, undefined, false));
    })
    .post('/users/:login/edit', async (r) => {
      const u = load(r, true);
      if (!u) return;
      const f = pick(r.form, ['login', 'uid', ...EDITABLE]);
      try {
        readOnlyCheck(u, f);
        if (r.viewer.role !== 'root' && f.group === 'root') {
          throw new ValidationError('only roots can make a root', {
            fields: { group: ['Only roots can make someone root.'] },
          });
        }
        const patch: UserPatch = {};
        for (const k of EDITABLE)
          if (f[k] !== undefined)
            (patch as Record<string, unknown>)[k] = k === 'ssh_key' && f[k] === '' ? null : f[k];
        await write((w) => w.update(u.login, patch));
        r.redirect(msg(userUrl(u.login), `User ${u.login} saved.`));
      } catch (e) {
        r.page(
          `Edit ${u.login}`,
          userForm(r.viewer, `${userUrl(u.login)}/edit`, { ...u, ...f }, problemsOf(e), false),
          { status: 400 },
        );
      }
    })
    .post('/users/:login/new-password', async (r) => {
      const u = load(r, true);
      if (!u) return;
      const saved = await write((w) => w.update(u.login, { password: generatePassword(8) }));
      r.redirect(msg(userUrl(saved.login), `New password set for ${saved.login} (shown below).`));
    })
    .post(
      '/users/:login/delete',
      async (r) => {
        const u = load(r, false);
        if (!u) return;
        await write((w) => w.delete(u.login));
        r.redirect(msg('/', `User ${u.login} deleted.`));
      },
      'root',
    )

    .get('/uid-pools', (r) => {
      const pools = store.read((tx) => tx.values(tables.pools)).sort((a, b) => (a.group < b.group ? -1 : 1));
      r.page(
        'UID pools',
        html`${flash(r.query.get('msg'))}<table><thead><tr><th>Group</th><th>Base UID</th><th>Last allocation</th><th>Next UID</th></tr></thead><tbody>${pools.map(
          (p) =>
            html`<tr><td>${p.group}</td><td>${p.base}</td><td>${p.last}</td><td>${p.base + p.last + 1}</td></tr>`,
        )}</tbody></table>${
          r.viewer.role === 'root'
            ? pools.map(
                (p) =>
                  html`<details><summary>Change the ${p.group} pool</summary>${poolForm(r.viewer, p.group, { ...p }, undefined)}</details>`,
              )
            : html`<p><small>Only roots change UID pools.</small></p>`
        }`,
      );
    })
    .post(
      '/uid-pools/:group',
      async (r) => {
        const group = r.params.group!;
        const f = pick(r.form, ['base', 'last']);
        try {
          const base = intOf(f.base, 'base');
          const last = intOf(f.last, 'last');
          await store.write((tx) => {
            const pool = tx.get(tables.pools, group);
            if (!pool) throw new ValidationError(`no UID pool for group ${group}`);
            const next = { ...pool, base, last };
            const clash = tx.values(tables.pools).find((p) => p.group !== group && p.base === base);
            if (clash)
              throw new ValidationError(`base ${base} is the base of the ${clash.group} pool`, {
                fields: { base: ['UID Pool with this Base UID already exists.'] },
              });
            tx.put(tables.pools, group, next);
          });
          r.redirect(msg('/uid-pools', `UID pool ${group} saved.`));
        } catch (e) {
          r.page(`UID pool ${group}`, poolForm(r.viewer, group, f, problemsOf(e)), { status: 400 });
        }
      },
      'root',
    );
  addImportPages(site, ctx, config);
}

function intOf(v: unknown, field: string): number {
  const s = String(v ?? '').trim();
  if (!/^\d{1,9}$/.test(s))
    throw new ValidationError(`${field} must be a non-negative integer`, {
      fields: { [field]: ['Enter a whole number.'] },
    });
  return Number(s);
}

/** Same read-only rules as PATCH /api/v1/users: a forged form cannot rename or renumber. */
function readOnlyCheck(u: User, f: Record<string, unknown>): void {
  const fields: Record<string, string[]> = {};
  if (f.login !== undefined && f.login !== u.login)
    fields.login = ['login is read-only: create a new user and delete this one to rename.'];
  if (f.uid !== undefined && String(f.uid) !== String(u.uid))
    fields.uid = ['uid is read-only: uids are never reassigned.'];
  if (Object.keys(fields).length) throw new ValidationError('read-only fields changed', { fields });
}

function poolForm(
  viewer: Viewer,
  group: string,
  p: Partial<Record<string, unknown>>,
  problems: FormProblems | undefined,
): SafeHtml {
  const v = (k: string) => (p[k] === undefined ? '' : String(p[k]));
  return html`${generalProblem(problems)}<form method="post" action="/uid-pools/${group}">${csrfField(viewer)}<div class="grid2">${input('base', 'Base UID', v('base'), problems, { type: 'number' })}${input('last', 'Last allocation', v('last'), problems, { type: 'number' })}</div><button type="submit">Save the ${group} pool</button></form>`;
}
