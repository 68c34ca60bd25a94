import { createMachine, deleteMachine, getMachine, listMachines, updateMachine } from '../mdb/machines.js';
import { MACHINE_TYPES, type Machine, ROOMS } from '../mdb/model.js';
import type { Store } from '../store/index.js';
import {
  checkbox,
  type FormProblems,
  generalProblem,
  input,
  pick,
  problemsOf,
  select,
  textarea,
} from './forms.js';
import { html, type SafeHtml } from './html.js';
import { csrfField, flash, type Viewer } from './layout.js';
import { pageOf, pager, sortBy, sortHeader, withQuery } from './paging.js';
import type { PageRequest, WebSite } from './site.js';

const EDITABLE = ['aliases', 'rfs', 'hfs', 'mtype', 'room', 'is_faulty', 'is_faulty_details'] as const;
/** A forged edit may send these; the domain refuses any change to them. */
const READ_ONLY = ['hostname', 'ip', 'mac'] as const;
const SORTABLE = ['hostname', 'aliases', 'ip', 'mac', 'mtype', 'room', 'is_faulty'] as const;

const machineUrl = (hostname: string) => `/machines/${encodeURIComponent(hostname)}`;

/** Filters of the machine list: type, room, and a search on hostname, aliases, ip and MAC. */
export function filterMachines(all: Machine[], query: URLSearchParams): Machine[] {
  const mtype = query.get('mtype') || undefined;
  const room = query.get('room') || undefined;
  const q = (query.get('q') ?? '').trim().toLowerCase();
  return all.filter(
    (m) =>
      (!mtype || m.mtype === mtype) &&
      (!room || m.room === room) &&
      (!q || m.hostname.includes(q) || m.aliases.includes(q) || m.ip.includes(q) || m.mac.includes(q)),
  );
}

export function machineListBody(all: Machine[], query: URLSearchParams): SafeHtml {
  const filtered = sortBy(filterMachines(all, query), query, SORTABLE, 'hostname');
  const { rows, page, pages } = pageOf(filtered, query);
  const base = '/';
  return html`${flash(query.get('msg'))}<p><a href="/machines/new" role="button">Add a machine</a></p>
<form method="get" action="/" class="filters"><input type="search" name="q" value="${query.get('q') ?? ''}" placeholder="hostname, alias, IP or MAC" aria-label="Search">${select('mtype', '', MACHINE_TYPES, query.get('mtype') ?? '', undefined, { blank: 'any type' })}${select('room', '', ROOMS, query.get('room') ?? '', undefined, { blank: 'any room' })}<button type="submit">Filter</button></form>
${pager(base, query, page, pages, filtered.length)}
<table><thead><tr>${sortHeader(base, query, 'hostname', 'Hostname')}${sortHeader(base, query, 'aliases', 'Aliases')}${sortHeader(base, query, 'ip', 'IP')}${sortHeader(base, query, 'mac', 'MAC')}${sortHeader(base, query, 'mtype', 'Type')}${sortHeader(base, query, 'room', 'Room')}${sortHeader(base, query, 'is_faulty', 'Faulty')}</tr></thead><tbody>
${rows.map((m) => html`<tr><td><a href="${machineUrl(m.hostname)}">${m.hostname}</a></td><td>${m.aliases}</td><td>${m.ip}</td><td>${m.mac}</td><td>${m.mtype}</td><td>${m.room}</td><td>${m.is_faulty ? html`<span class="faulty" title="${m.is_faulty_details}">faulty</span>` : ''}</td></tr>\n`)}
</tbody></table>${pages > 1 ? pager(base, query, page, pages, filtered.length) : ''}`;
}

function machineForm(
  viewer: Viewer,
  action: string,
  m: Partial<Record<string, unknown>>,
  p: FormProblems | undefined,
  creating: boolean,
): SafeHtml {
  const s = (k: string) => (m[k] === undefined || m[k] === null ? '' : String(m[k]));
  return html`${generalProblem(p)}<form method="post" action="${action}">${csrfField(viewer)}
${input('hostname', 'Hostname', s('hostname'), p, { readonly: !creating, required: true, hint: creating ? 'lowercase letters, digits, dashes' : 'read-only: the DNS name and sync key' })}
${creating ? input('ip', 'IP', 'allocated from the pool of the type on save', p, { readonly: true }) : input('ip', 'IP', s('ip'), p, { readonly: true, hint: 'read-only' })}
${input('mac', 'MAC', s('mac'), p, { readonly: !creating, required: true, placeholder: 'aa:bb:cc:dd:ee:ff', hint: creating ? undefined : 'read-only' })}
${input('aliases', 'Aliases', s('aliases'), p, { hint: 'comma-separated, no spaces' })}
<div class="grid2">${select('mtype', 'Type', MACHINE_TYPES, s('mtype') || 'user', p)}${select('room', 'Room', ROOMS, s('room') || 'other', p)}${input('rfs', 'RFS', s('rfs') || '0', p, { type: 'number' })}${input('hfs', 'HFS', s('hfs') || '0', p, { type: 'number' })}</div>
${checkbox('is_faulty', 'Faulty machine', m.is_faulty === true, p)}
${textarea('is_faulty_details', 'Details on why the machine is faulty', s('is_faulty_details'), p)}
<button type="submit">${creating ? 'Create' : 'Save'}</button></form>`;
}

function machineView(m: Machine, query: URLSearchParams): SafeHtml {
  return html`${flash(query.get('msg'))}<table><tbody>
<tr><th>Hostname</th><td>${m.hostname}</td></tr><tr><th>Aliases</th><td>${m.aliases}</td></tr><tr><th>IP</th><td>${m.ip}</td></tr><tr><th>MAC</th><td>${m.mac}</td></tr>
<tr><th>Type</th><td>${m.mtype}</td></tr><tr><th>Room</th><td>${m.room}</td></tr><tr><th>RFS / HFS</th><td>${m.rfs} / ${m.hfs}</td></tr>
<tr><th>Faulty</th><td>${m.is_faulty ? html`<span class="faulty">yes</span> ${m.is_faulty_details}` : 'no'}</td></tr></tbody></table>
<p><a href="${machineUrl(m.hostname)}/edit" role="button">Edit</a> <a href="${machineUrl(m.hostname)}/delete" role="button" class="secondary">Delete…</a> <a href="/">Back to the list</a></p>`;
}

/** The machine pages of the `mdb` host (spec §2.5): every save through the MDB domain functions. */
export function addMachinePages(site: WebSite, store: Store): void {
  const load = (r: PageRequest): Machine | undefined => {
    try {
      return store.read((tx) => getMachine(tx, r.params.hostname!));
    } catch {
      r.page(
        'No such machine',
        html`<p>There is no machine named <code>${r.params.hostname}</code>. <a href="/">Back to the list</a></p>`,
        { status: 404 },
      );
      return undefined;
    }
  };
  site
    .get('/', (r) =>
      r.page(
        'Machines',
        machineListBody(
          store.read((tx) => listMachines(tx)),
          r.query,
        ),
      ),
    )
    .get('/machines/new', (r) =>
      r.page(
        'Add a machine',
        machineForm(
          r.viewer,
          '/machines/new',
          {
            hostname: r.query.get('hostname') ?? '',
            mac: r.query.get('mac') ?? '',
            room: r.query.get('room') ?? undefined,
            mtype: r.query.get('mtype') ?? undefined,
          },
          undefined,
          true,
        ),
      ),
    )
    .post('/machines/new', async (r) => {
      const input = pick(r.form, ['hostname', 'mac', ...EDITABLE], ['is_faulty']);
      try {
        const m = await store.write((tx) => createMachine(tx, input));
        r.redirect(
          `${machineUrl(m.hostname)}?msg=${encodeURIComponent(`Machine ${m.hostname} created with IP ${m.ip}.`)}`,
        );
      } catch (e) {
        r.page('Add a machine', machineForm(r.viewer, '/machines/new', input, problemsOf(e), true), {
          status: 400,
        });
      }
    })
    .get('/machines/:hostname', (r) => {
      const m = load(r);
      if (m) r.page(`Machine ${m.hostname}`, machineView(m, r.query));
    })
    .get('/machines/:hostname/edit', (r) => {
      const m = load(r);
      if (m)
        r.page(
          `Edit ${m.hostname}`,
          machineForm(r.viewer, `${machineUrl(m.hostname)}/edit`, { ...m }, undefined, false),
        );
    })
    .post('/machines/:hostname/edit', async (r) => {
      const m = load(r);
      if (!m) return;
      const changes = pick(r.form, [...READ_ONLY, ...EDITABLE], ['is_faulty']);
      try {
        const saved = await store.write((tx) => updateMachine(tx, m.hostname, changes));
        r.redirect(
          `${machineUrl(saved.hostname)}?msg=${encodeURIComponent(`Machine ${saved.hostname} saved.`)}`,
        );
      } catch (e) {
        r.page(
          `Edit ${m.hostname}`,
          machineForm(r.viewer, `${machineUrl(m.hostname)}/edit`, { ...m, ...changes }, problemsOf(e), false),
          { status: 400 },
        );
      }
    })
    .get('/machines/:hostname/delete', (r) => {
      const m = load(r);
      if (!m) return;
      r.page(
        `Delete ${m.hostname}?`,
        html`<p>Delete machine <strong>${m.hostname}</strong> (${m.ip}, ${m.mac})? Its DNS names and DHCP reservation go at once.</p><form method="post" action="${machineUrl(m.hostname)}/delete">${csrfField(r.viewer)}<button type="submit">Yes, delete ${m.hostname}</button> <a href="${machineUrl(m.hostname)}">No, keep it</a></form>`,
      );
    })
    .post('/machines/:hostname/delete', async (r) => {
      const m = load(r);
      if (!m) return;
      await store.write((tx) => deleteMachine(tx, m.hostname));
      r.redirect(withQuery('/', new URLSearchParams(), { msg: `Machine ${m.hostname} deleted.` }));
    });
}
