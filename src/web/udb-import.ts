import { randomBytes } from 'node:crypto';
import { findOperation } from '../cli/operations.js';
import type { GatehouseConfig } from '../config/index.js';
import { errorMessage } from '../errors.js';
import type { ServiceContext } from '../service.js';
import { USER_GROUPS, type User, type UserGroup } from '../udb/model.js';
import { prepareBatchImport, UDB_OPERATIONS } from '../udb/operations.js';
import { udbTables } from '../udb/users.js';
import { ReservedLogins } from '../udb/validate.js';
import { checkbox, select } from './forms.js';
import { html, type SafeHtml } from './html.js';
import { csrfField, type Viewer } from './layout.js';
import type { WebSite } from './site.js';

/** One batch import started from the web: the lines the operation printed and its progress. */
interface ImportJob {
  id: string;
  by: string;
  logins: string[];
  out: string[];
  err: string[];
  done: number;
  total: number;
  status: number | undefined;
}

const MAX_JOBS = 20;

interface ImportOptions {
  group: UserGroup;
  pwdlen: string;
  logins: boolean;
  passwords: boolean;
  update: boolean;
  ignore: boolean;
}

function optionsOf(form: URLSearchParams): ImportOptions {
  const flag = (n: string) => form.getAll(n).at(-1) === 'true';
  const group = form.get('type') ?? 'user';
  return {
    group: ((USER_GROUPS as readonly string[]).includes(group) ? group : 'user') as UserGroup,
    pwdlen: form.get('pwdlen') || '8',
    logins: flag('logins'),
    passwords: flag('passwords'),
    update: flag('update'),
    ignore: flag('ignore'),
  };
}

function optionFields(o: ImportOptions, hidden: boolean): SafeHtml {
  if (hidden) {
    return html`<input type="hidden" name="type" value="${o.group}"><input type="hidden" name="pwdlen" value="${o.pwdlen}">${(
      ['logins', 'passwords', 'update', 'ignore'] as const
    ).map((k) => html`<input type="hidden" name="${k}" value="${String(o[k])}">`)}`;
  }
  return html`<div class="grid2">${select('type', 'Group (--type)', USER_GROUPS, o.group, undefined)}<label>Password length (--pwdlen)<input type="number" name="pwdlen" value="${o.pwdlen}" min="2" max="64"></label></div>
${checkbox('logins', 'The file holds logins, not "first name⇥last name" (--logins)', o.logins, undefined)}
${checkbox('passwords', 'Each line ends with ":password" (--passwords, with --logins)', o.passwords, undefined)}
${checkbox('update', 'Update existing users: new names, group and password (--update)', o.update, undefined)}
${checkbox('ignore', 'Skip existing users (--ignore)', o.ignore, undefined)}`;
}

function sheet(u: Pick<User, 'firstname' | 'lastname' | 'login' | 'password'>): SafeHtml {
  return html`<section class="sheet"><h2>${u.firstname} ${u.lastname}</h2><p>Login: <code>${u.login}</code></p><p>Password: <code>${u.password}</code></p><p><small>Keep this sheet to yourself. Log in on any contest machine with these.</small></p></section>`;
}

/**
 * Batch import of the finalists file (the format of `gatehouse udb batchimport`, spec §7.6):
 * upload, a preview of every derived login before anything is written, then the import run by
 * the very batchimport operation with its progress, and printable password sheets (`pwdsheetdata`).
 */
export function addImportPages(site: WebSite, ctx: ServiceContext, config: () => GatehouseConfig): void {
  const { store } = ctx;
  const tables = udbTables(store);
  const jobs = new Map<string, ImportJob>();

  const form = (viewer: Viewer, o: ImportOptions, text: string, problems: string[] = []) =>
    html`${problems.length ? html`<div class="refusal" role="alert"><p>Nothing was imported; fix these lines:</p><ul>${problems.map((p) => html`<li>${p}</li>`)}</ul></div>` : ''}
<form method="post" action="/import/preview" enctype="multipart/form-data">${csrfField(viewer)}
<label>Finalists file<input type="file" name="file" accept=".txt,.tsv,text/plain"></label>
<label>…or paste it here<textarea name="text" rows="8" placeholder="Alain&#9;Proviste">${text}</textarea></label>
${optionFields(o, false)}<button type="submit">Preview</button></form>`;

  site
    .get(
      '/import',
      (r) => r.page('Batch import', form(r.viewer, optionsOf(new URLSearchParams()), '')),
      'root',
    )
    .post(
      '/import/preview',
      (r) => {
        const o = optionsOf(r.form);
        const file = r.form.get('file') ?? '';
        const text = file.trim() !== '' ? file : (r.form.get('text') ?? '');
        const reserved = new ReservedLogins(config().udb);
        const { rows, problems } = prepareBatchImport(text, o, o.group, reserved);
        if (o.passwords && !o.logins)
          problems.unshift('--passwords needs --logins: only "login:password" lines carry passwords');
        if (rows.length === 0 && problems.length === 0) problems.push('the file has no line to import');
        if (problems.length) {
          r.page('Batch import', form(r.viewer, o, text, problems), { status: 400 });
          return;
        }
        const existing = store.read(
          (tx) => new Set(rows.filter((row) => tx.has(tables.users, row.login)).map((row) => row.login)),
        );
        r.page(
          'Batch import: preview',
          html`<p>${rows.length} users to import into group <strong>${o.group}</strong>. Nothing is written until you press Import.</p>
<table id="preview"><thead><tr><th>Line</th><th>First name</th><th>Last name</th><th>Login</th><th>Already exists?</th></tr></thead><tbody>${rows.map(
            (row) =>
              html`<tr><td>${row.line}</td><td>${row.firstname}</td><td>${row.lastname}</td><td><code>${row.login}</code></td><td>${existing.has(row.login) ? (o.update ? 'yes: updated' : o.ignore ? 'yes: skipped' : html`<span class="faulty">yes: the import stops here</span>`) : ''}</td></tr>`,
          )}</tbody></table>
<form method="post" action="/import/run">${csrfField(r.viewer)}<input type="hidden" name="text" value="${text}">${optionFields(o, true)}<button type="submit">Import ${rows.length} users</button> <a href="/import">Start again</a></form>`,
        );
      },
      'root',
    )
    .post(
      '/import/run',
      (r) => {
        const o = optionsOf(r.form);
        const text = r.form.get('text') ?? '';
        const op = findOperation(UDB_OPERATIONS.batchimport)!;
        const id = randomBytes(9).toString('base64url');
        const job: ImportJob = {
          id,
          by: r.viewer.login,
          logins: [],
          out: [],
          err: [],
          done: 0,
          total: 0,
          status: undefined,
        };
        jobs.set(id, job);
        for (const old of [...jobs.keys()].slice(0, Math.max(0, jobs.size - MAX_JOBS))) jobs.delete(old);
        const flags: Record<string, string | boolean> = { type: o.group, pwdlen: o.pwdlen };
        for (const k of ['logins', 'passwords', 'update', 'ignore'] as const) if (o[k]) flags[k] = true;
        ctx.logger.info('web.batchimport_started', { job: id, by: r.viewer.login, group: o.group });
        op.run(
          { store, config: config(), logger: ctx.logger },
          { positionals: [], flags, files: { file: text } },
          {
            out: (line) => {
              job.out.push(line);
              const login = /\(login: ([^)]+)\)\)?$/.exec(line)?.[1];
              if (login && !line.startsWith('(')) job.logins.push(login);
            },
            err: (line) => job.err.push(line),
            progress: (done, total) => {
              job.done = done;
              job.total = total;
            },
          },
        ).then(
          (status) => {
            job.status = status;
          },
          (e) => {
            job.err.push(errorMessage(e));
            job.status = 1;
          },
        );
        r.redirect(`/import/jobs/${id}`);
      },
      'root',
    )
    .get(
      '/import/jobs/:id',
      (r) => {
        const job = jobs.get(r.params.id!);
        if (!job) {
          r.page(
            'Batch import',
            html`<p>No such import (they are kept until Gatehouse restarts). <a href="/import">New import</a></p>`,
            { status: 404 },
          );
          return;
        }
        const running = job.status === undefined;
        r.page(
          running
            ? 'Batch import: running'
            : job.status === 0
              ? 'Batch import: done'
              : 'Batch import: stopped',
          html`<progress value="${job.done}" max="${job.total || 1}"></progress><p id="progress">${job.done} of ${job.total} rows written.</p>
${job.err.length ? html`<div class="refusal">${job.err.map((l) => html`<p>${l}</p>`)}</div>` : ''}
<pre id="import-output">${job.out.join('\n')}</pre>
${!running && job.logins.length ? html`<p><a href="/sheets?job=${job.id}" role="button">Password sheets of the ${job.logins.length} users added or updated</a></p>` : ''}`,
          running ? { refresh: 1 } : {},
        );
      },
      'root',
    )
    .get('/sheets', (r) => {
      const job = r.query.get('job');
      const group = r.query.get('type') ?? 'user';
      const per = r.query.get('per') === '4' ? 4 : 1;
      const only = job ? new Set(jobs.get(job)?.logins ?? []) : undefined;
      const users = store
        .read((tx) => tx.values(tables.users))
        .filter((u) => (only ? only.has(u.login) : u.group === group))
        .sort((a, b) => (a.login < b.login ? -1 : a.login > b.login ? 1 : 0));
      r.page(
        'Password sheets',
        html`<form method="get" action="/sheets" class="filters no-print">${job ? html`<input type="hidden" name="job" value="${job}">` : select('type', '', USER_GROUPS, group, undefined)}<select name="per" aria-label="Sheets per page"><option value="1"${per === 1 ? html` selected` : ''}>one per page</option><option value="4"${per === 4 ? html` selected` : ''}>four per page</option></select><button type="submit">Show</button></form>
<p class="no-print"><small>${users.length} sheets. Print this page (the navigation is not printed).</small></p>
<div class="sheets per-page-${per}">${users.map(sheet)}</div>`,
      );
    });
}
