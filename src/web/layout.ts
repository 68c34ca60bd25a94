import type { AdminRole } from '../http/admin-auth.js';
import type { Assets } from './assets.js';
import { type HtmlValue, html, type SafeHtml } from './html.js';

export type SiteName = 'dashboard' | 'mdb' | 'udb';

export interface Viewer {
  login: string;
  role: AdminRole;
  csrf: string;
}

export interface LayoutOptions {
  assets: Assets;
  site: SiteName;
  title: string;
  viewer?: Viewer;
  /** Sub-navigation of the site: [href, label]. */
  sections?: ReadonlyArray<readonly [string, string]>;
  /** Loads the live-update script (dashboard). */
  live?: boolean;
  /** Seconds after which the page reloads itself (import progress without JavaScript). */
  refresh?: number;
  body: HtmlValue;
}

const SITES: ReadonlyArray<readonly [SiteName, string]> = [
  ['dashboard', 'Dashboard'],
  ['mdb', 'Machines (MDB)'],
  ['udb', 'Users (UDB)'],
];

/** The hidden field every state-changing form carries. */
export function csrfField(viewer: Viewer): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${viewer.csrf}">`;
}

/** One look for every admin page: navigation between the three hosts, the user, sign-out. */
export function layout(o: LayoutOptions): SafeHtml {
  const nav = o.viewer
    ? html`<nav class="top"><ul><li><strong>Gatehouse</strong></li>${SITES.map(
        ([site, label]) =>
          html`<li><a href="${site === o.site ? '/' : `/_go/${site}`}"${site === o.site ? html` aria-current="page"` : ''}>${label}</a></li>`,
      )}</ul><ul><li>${o.viewer.login} <small>(${o.viewer.role === 'root' ? 'root' : 'organizer'})</small></li><li><form method="post" action="/_auth/logout" class="inline">${csrfField(o.viewer)}<button type="submit" class="link">Sign out</button></form></li></ul></nav>`
    : html`<nav class="top"><ul><li><strong>Gatehouse</strong></li></ul></nav>`;
  const sections = o.sections?.length
    ? html`<nav class="sections"><ul>${o.sections.map(([href, label]) => html`<li><a href="${href}">${label}</a></li>`)}</ul></nav>`
    : '';
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">${
    o.refresh ? html`<meta http-equiv="refresh" content="${o.refresh}">` : ''
  }<title>${o.title} · Gatehouse</title><link rel="stylesheet" href="${o.assets.url('pico.css')}"><link rel="stylesheet" href="${o.assets.url('gatehouse.css')}">${
    o.live ? html`<script src="${o.assets.url('live.js')}" defer></script>` : ''
  }</head>
<body><header>${nav}${sections}</header><main><h1>${o.title}</h1>${o.body}</main></body></html>
`;
}

/** A field's validation messages, shown next to it. */
export function fieldErrors(errors: Record<string, string[]> | undefined, field: string): SafeHtml {
  const msgs = errors?.[field];
  return msgs?.length ? html`<small class="error" id="${field}-error">${msgs.join(' ')}</small>` : html``;
}

export function flash(message: string | null | undefined): SafeHtml {
  return message ? html`<p class="flash" role="status">${message}</p>` : html``;
}
