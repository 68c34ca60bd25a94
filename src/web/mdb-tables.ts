import { ModelValidationError } from '../mdb/django-fields.js';
import { MACHINE_TYPES, ROOMS, SELF_REGISTRATION_KEY, type Switch } from '../mdb/model.js';
import { createPool, getPool, listPools, updatePool } from '../mdb/pools.js';
import { listSettings, selfRegistrationAllowed, setSetting, updateSetting } from '../mdb/settings.js';
import { createSwitch, deleteSwitch, getSwitch, listSwitches, updateSwitch } from '../mdb/switches.js';
import type { Store } from '../store/index.js';
import { type FormProblems, generalProblem, input, pick, problemsOf, select } from './forms.js';
import { html, type SafeHtml } from './html.js';
import { csrfField, flash, type Viewer } from './layout.js';
import type { PageRequest, WebSite } from './site.js';

const SWITCH_EDITABLE = ['name', 'room', 'rfs', 'hfs'] as const;
const switchUrl = (chassis: string) => `/switches/${encodeURIComponent(chassis)}`;
const msg = (path: string, text: string) => `${path}?msg=${encodeURIComponent(text)}`;

function switchForm(
  viewer: Viewer,
  action: string,
  s: Partial<Record<string, unknown>>,
  p: FormProblems | undefined,
  creating: boolean,
): SafeHtml {
  const v = (k: string) => (s[k] === undefined || s[k] === null ? '' : String(s[k]));
  return html`${generalProblem(p)}<form method="post" action="${action}">${csrfField(viewer)}
${input('name', 'Name', v('name'), p, { required: true })}${input('chassis', 'Chassis ID', v('chassis'), p, { readonly: !creating, required: true, placeholder: 'aa:bb:cc:dd:ee:ff' })}
<div class="grid2">${select('room', 'Room', ROOMS, v('room') || 'other', p)}${input('rfs', 'RFS', v('rfs') || '0', p, { type: 'number' })}${input('hfs', 'HFS', v('hfs') || '0', p, { type: 'number' })}</div>
<button type="submit">${creating ? 'Create' : 'Save'}</button></form>`;
}

function switchList(switches: Switch[], query: URLSearchParams): SafeHtml {
  return html`${flash(query.get('msg'))}<p><a href="/switches/new" role="button">Add a switch</a></p><table><thead><tr><th>Name</th><th>Chassis ID</th><th>Room</th><th>RFS</th><th>HFS</th><th></th></tr></thead><tbody>${switches.map(
    (s) =>
      html`<tr><td>${s.name}</td><td>${s.chassis}</td><td>${s.room}</td><td>${s.rfs}</td><td>${s.hfs}</td><td><a href="${switchUrl(s.chassis)}">edit</a></td></tr>`,
  )}</tbody></table>`;
}

/** Switches, IP pools and volatile settings of the `mdb` host, with the rules of the admin API. */
export function addMdbTablePages(site: WebSite, store: Store): void {
  const loadSwitch = (r: PageRequest): Switch | undefined => {
    try {
      return store.read((tx) => getSwitch(tx, r.params.chassis!));
    } catch {
      r.page('No such switch', html`<p>No switch with chassis <code>${r.params.chassis}</code>.</p>`, {
        status: 404,
      });
      return undefined;
    }
  };
  site
    .get('/switches', (r) =>
      r.page(
        'Switches',
        switchList(
          store.read((tx) => listSwitches(tx)),
          r.query,
        ),
      ),
    )
    .get('/switches/new', (r) =>
      r.page(
        'Add a switch',
        switchForm(
          r.viewer,
          '/switches/new',
          { chassis: r.query.get('chassis') ?? '', name: r.query.get('name') ?? '' },
          undefined,
          true,
        ),
      ),
    )
    .post('/switches/new', async (r) => {
      const input = pick(r.form, ['chassis', ...SWITCH_EDITABLE]);
      try {
        const s = await store.write((tx) => createSwitch(tx, input));
        r.redirect(msg('/switches', `Switch ${s.name} (${s.chassis}) created.`));
      } catch (e) {
        r.page('Add a switch', switchForm(r.viewer, '/switches/new', input, problemsOf(e), true), {
          status: 400,
        });
      }
    })
    .get('/switches/:chassis', (r) => {
      const s = loadSwitch(r);
      if (s)
        r.page(
          `Switch ${s.name}`,
          html`${switchForm(r.viewer, switchUrl(s.chassis), { ...s }, undefined, false)}<form method="post" action="${switchUrl(s.chassis)}/delete">${csrfField(r.viewer)}<button type="submit" class="secondary">Delete this switch</button></form>`,
        );
    })
    .post('/switches/:chassis', async (r) => {
      const s = loadSwitch(r);
      if (!s) return;
      const changes = pick(r.form, SWITCH_EDITABLE);
      const chassis = r.form.get('chassis');
      try {
        if (chassis !== null && chassis.toLowerCase() !== s.chassis) {
          throw new ModelValidationError({
            chassis: ['chassis is read-only once the switch exists; delete and re-create it to change it.'],
          });
        }
        await store.write((tx) => updateSwitch(tx, s.chassis, changes));
        r.redirect(msg('/switches', `Switch ${s.chassis} saved.`));
      } catch (e) {
        r.page(
          `Switch ${s.name}`,
          switchForm(r.viewer, switchUrl(s.chassis), { ...s, ...changes }, problemsOf(e), false),
          { status: 400 },
        );
      }
    })
    .post('/switches/:chassis/delete', async (r) => {
      const s = loadSwitch(r);
      if (!s) return;
      await store.write((tx) => deleteSwitch(tx, s.chassis));
      r.redirect(msg('/switches', `Switch ${s.chassis} deleted.`));
    })

    .get('/pools', (r) => {
      const pools = store.read((tx) => listPools(tx));
      r.page(
        'IP pools',
        html`${flash(r.query.get('msg'))}<table><thead><tr><th>Type</th><th>Network</th><th>Last allocation</th><th></th></tr></thead><tbody>${pools.map(
          (p) =>
            html`<tr><td>${p.mtype}</td><td>${p.network}</td><td>${p.last}</td><td><a href="/pools/${p.mtype}">edit</a></td></tr>`,
        )}</tbody></table><h2>Add a pool</h2>${poolForm(r.viewer, '/pools/new', {}, undefined, true)}`,
      );
    })
    .post('/pools/new', async (r) => {
      const input = pick(r.form, ['mtype', 'network', 'last']);
      try {
        await store.write((tx) => createPool(tx, input));
        r.redirect(msg('/pools', `Pool for ${String(input.mtype)} created.`));
      } catch (e) {
        r.page('Add an IP pool', poolForm(r.viewer, '/pools/new', input, problemsOf(e), true), {
          status: 400,
        });
      }
    })
    .get('/pools/:mtype', (r) => {
      try {
        const p = store.read((tx) => getPool(tx, r.params.mtype!));
        r.page(`IP pool ${p.mtype}`, poolForm(r.viewer, `/pools/${p.mtype}`, { ...p }, undefined, false));
      } catch (e) {
        r.page('No such pool', html`<p>${problemsOf(e).general}</p>`, { status: 404 });
      }
    })
    .post('/pools/:mtype', async (r) => {
      const changes = pick(r.form, ['mtype', 'network', 'last']);
      try {
        await store.write((tx) => updatePool(tx, r.params.mtype!, changes));
        r.redirect(msg('/pools', `Pool ${r.params.mtype} saved.`));
      } catch (e) {
        r.page(
          `IP pool ${r.params.mtype}`,
          poolForm(r.viewer, `/pools/${encodeURIComponent(r.params.mtype!)}`, changes, problemsOf(e), false),
          { status: 400 },
        );
      }
    })

    .get('/settings', (r) => {
      const { rows, allowed } = store.read((tx) => {
        let allowed: boolean | string;
        try {
          allowed = selfRegistrationAllowed(tx);
        } catch (e) {
          allowed = problemsOf(e).general ?? 'ambiguous';
        }
        return { rows: listSettings(tx), allowed };
      });
      r.page(
        'Settings',
        html`${flash(r.query.get('msg'))}<h2>Self registration</h2><p>Unknown machines ${allowed === true ? html`<strong>may</strong>` : html`<strong>may not</strong>`} register themselves from the boot menu${typeof allowed === 'string' ? html` (${allowed})` : ''}.</p>
<form method="post" action="/settings/self-registration">${csrfField(r.viewer)}<input type="hidden" name="enabled" value="${allowed === true ? 'false' : 'true'}"><button type="submit">${allowed === true ? 'Turn self registration off' : 'Turn self registration on'}</button></form>
<h2>All volatile settings</h2><table><thead><tr><th>Key</th><th>Boolean</th><th>String</th><th>Int</th><th></th></tr></thead><tbody>${rows.map(
          (s) =>
            html`<tr><td>${s.key}</td><td>${String(s.value_bool)}</td><td>${s.value_str ?? ''}</td><td>${s.value_int ?? ''}</td><td><form method="post" action="/settings/${s.id}" class="inline">${csrfField(r.viewer)}<input name="value_str" value="${s.value_str ?? ''}" aria-label="String value of ${s.key}"><button type="submit">set string</button></form></td></tr>`,
        )}</tbody></table>`,
      );
    })
    .post('/settings/self-registration', async (r) => {
      const enabled = r.form.get('enabled') === 'true';
      try {
        await store.write((tx) => setSetting(tx, SELF_REGISTRATION_KEY, enabled));
        r.redirect(msg('/settings', `Self registration ${enabled ? 'enabled' : 'disabled'}.`));
      } catch (e) {
        r.page(
          'Settings',
          html`<p class="refusal">${problemsOf(e).general}</p><p><a href="/settings">Back</a></p>`,
          { status: 409 },
        );
      }
    })
    .post('/settings/:id', async (r) => {
      const id = Number(r.params.id);
      try {
        await store.write((tx) => updateSetting(tx, id, { value_str: r.form.get('value_str') ?? '' }));
        r.redirect(msg('/settings', 'Setting saved.'));
      } catch (e) {
        r.page(
          'Settings',
          html`<p class="refusal">${problemsOf(e).general ?? Object.values(problemsOf(e).fields).flat().join(' ')}</p><p><a href="/settings">Back</a></p>`,
          { status: 400 },
        );
      }
    });
}

function poolForm(
  viewer: Viewer,
  action: string,
  p: Partial<Record<string, unknown>>,
  problems: FormProblems | undefined,
  creating: boolean,
): SafeHtml {
  const v = (k: string) => (p[k] === undefined || p[k] === null ? '' : String(p[k]));
  return html`${generalProblem(problems)}<form method="post" action="${action}">${csrfField(viewer)}${creating ? select('mtype', 'For type', MACHINE_TYPES, v('mtype'), problems) : input('mtype', 'For type', v('mtype'), problems, { readonly: true })}${input('network', 'CIDR', v('network'), problems, { placeholder: '192.168.0.0/24' })}${input('last', 'Last allocation', v('last') || '0', problems, { type: 'number', hint: 'raising it reserves the addresses below for manual use' })}<button type="submit">${creating ? 'Create' : 'Save'}</button></form>`;
}
