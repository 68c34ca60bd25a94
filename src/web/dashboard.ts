import type { GatehouseConfig } from '../config/index.js';
import type { Machine } from '../mdb/model.js';
import { MDB_TABLES } from '../mdb/model.js';
import { readContest, writeContest } from '../nft/state.js';
import type { ServiceContext } from '../service.js';
import {
  alienLeases,
  type BootProgressEntry,
  bootSource,
  counts,
  lldpSource,
  presenceOf,
  RateSampler,
  searchConnectionLog,
  sessionsByRoom,
  unknownNeighbours,
} from './dashboard-data.js';
import { html, type SafeHtml } from './html.js';
import { csrfField, flash, type Viewer } from './layout.js';
import { setSecurityHeaders } from './respond.js';
import type { WebSite } from './site.js';

const PHASES: ReadonlyArray<readonly [keyof BootProgressEntry['phases'], string]> = [
  ['dhcpPxe', 'DHCP (PXE)'],
  ['tftpDone', 'TFTP'],
  ['dhcpIpxe', 'DHCP (iPXE)'],
  ['bootScript', 'boot script'],
];

/** Debounce of live updates: a burst of store changes becomes one event. */
const LIVE_DEBOUNCE_MS = 150;
/** Ages and rates move without any change event. */
const LIVE_TICK_MS = 2000;

type SectionId =
  | 'health'
  | 'counts'
  | 'recent'
  | 'presence'
  | 'aliens'
  | 'lldp'
  | 'contest'
  | 'boot'
  | 'rates';

function sparkline(values: readonly number[]): SafeHtml {
  const max = Math.max(1, ...values);
  const points = values.map((v, i) => `${i * 4},${30 - Math.round((v / max) * 28)}`).join(' ');
  return html`<svg class="spark" width="240" height="32" viewBox="0 0 240 32" role="img" aria-label="last minute"><polyline fill="none" stroke="currentColor" stroke-width="1.5" points="${points}"></polyline></svg>`;
}

/**
 * The LAN dashboard on the default host: service health, counts, who is logged in where, alien
 * leases, unknown LLDP neighbours, contest mode, the connection log search and the boot storm.
 * Every section is rendered by one function, used for the page and for the live updates
 * (Server-Sent Events at /events, applied by static/live.js).
 */
export function addDashboardPages(
  site: WebSite,
  ctx: ServiceContext,
  config: () => GatehouseConfig,
): () => void {
  const { store, services } = ctx;
  const rates = new RateSampler(ctx.metrics);
  rates.start();
  const recent: Array<{ machine: Machine; at: number }> = [];
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const l of listeners) l();
  };
  const unsubscribeStore = store.subscribe((events) => {
    for (const e of events) {
      if (e.table === MDB_TABLES.machines && e.op === 'put' && e.before === null && e.after) {
        recent.unshift({ machine: e.after as Machine, at: e.ts });
        if (recent.length > 20) recent.pop();
      }
    }
    notify();
  });
  // Presence and the boot service are found when the first page asks: they start before us,
  // but the boot service may be wired in later by the composition root.
  let hooked = false;
  const unhook: Array<() => void> = [];
  const hook = () => {
    if (hooked) return;
    hooked = true;
    const p = presenceOf(services);
    if (p) unhook.push(p.onChange(notify));
    const off = bootSource(services)?.onChange(notify);
    if (typeof off === 'function') unhook.push(off);
  };

  const sections: Record<SectionId, (viewer: Viewer) => SafeHtml> = {
    health: () => {
      const rows = services.map((s) => ({ name: s.name, why: s.notReady?.() }));
      return html`<h2>Services</h2><table><tbody>${rows.map((r) => html`<tr><td>${r.name}</td><td>${r.why ? html`<span class="faulty">not ready: ${r.why}</span>` : 'ready'}</td></tr>`)}</tbody></table>`;
    },
    counts: () => {
      const c = counts(store, presenceOf(services));
      return html`<h2>Counts</h2><table><tbody><tr><th>Machines</th><td id="count-machines">${c.machines}</td></tr><tr><th>Users</th><td>${c.users}</td></tr><tr><th>DHCP leases</th><td>${c.leases}</td></tr><tr><th>Sessions</th><td>${c.sessions}</td></tr></tbody></table>`;
    },
    recent: () =>
      html`<h2>Newly registered machines</h2>${
        recent.length
          ? html`<table><tbody>${recent.map((r) => html`<tr><td>${r.machine.hostname}</td><td>${r.machine.ip}</td><td>${r.machine.room}</td><td>${new Date(r.at).toISOString().slice(11, 19)}</td></tr>`)}</tbody></table>`
          : html`<p><small>None since Gatehouse started.</small></p>`
      }`,
    presence: () => {
      const byRoom = sessionsByRoom(store, presenceOf(services));
      if (!presenceOf(services)) return html`<h2>Who is logged in where</h2><p>presence is disabled.</p>`;
      return html`<h2>Who is logged in where</h2>${
        byRoom.size === 0
          ? html`<p><small>Nobody is logged in.</small></p>`
          : [...byRoom].map(
              ([room, rows]) =>
                html`<h3>${room} <small>(${rows.length})</small></h3><table><thead><tr><th>Machine</th><th>Login</th><th>Last heartbeat</th></tr></thead><tbody>${rows.map((r) => html`<tr><td>${r.hostname}</td><td>${r.login}</td><td>${r.age === undefined ? '' : `${r.age} s ago`}</td></tr>`)}</tbody></table>`,
            )
      }`;
    },
    aliens: () => {
      const aliens = alienLeases(store);
      return html`<h2>Alien machines holding a lease</h2>${
        aliens.length
          ? html`<table><thead><tr><th>IP</th><th>MAC</th><th>Name sent</th><th></th></tr></thead><tbody>${aliens.map((a) => html`<tr><td>${a.ip}</td><td>${a.mac}</td><td>${a.hostname ?? ''}</td><td><a href="/_go/mdb?next=${encodeURIComponent(`/machines/new?mac=${encodeURIComponent(a.mac)}`)}">register</a></td></tr>`)}</tbody></table>`
          : html`<p><small>None.</small></p>`
      }`;
    },
    lldp: () => {
      const lldp = lldpSource(services);
      if (!lldp)
        return html`<h2>LLDP neighbours not in the switch table</h2><p><small>LLDP is disabled.</small></p>`;
      const rows = unknownNeighbours(store, lldp);
      return html`<h2>LLDP neighbours not in the switch table</h2>${
        rows.length
          ? html`<table><thead><tr><th>Chassis</th><th>Name</th><th>Port</th><th>Interface</th><th></th></tr></thead><tbody>${rows.map((n) => html`<tr><td>${n.chassis}</td><td>${n.systemName ?? ''}</td><td>${n.port}</td><td>${n.interface}</td><td><a href="/_go/mdb?next=${encodeURIComponent(`/switches/new?chassis=${encodeURIComponent(n.chassis)}&name=${encodeURIComponent(n.systemName ?? '')}`)}">add</a></td></tr>`)}</tbody></table>`
          : html`<p><small>Every neighbour is a known switch.</small></p>`
      }`;
    },
    contest: (viewer) => {
      const state = readContest(store);
      const on = state?.enabled ?? false;
      return html`<h2>Contest mode</h2><p id="contest-state">Contest mode is <strong>${on ? 'ON' : 'off'}</strong>${state ? html` <small>(since ${state.changedAt}, by ${state.by})</small>` : ''}: Internet access for ${on ? 'organizers and roots only' : 'the allowed groups'}.</p>${
        viewer.role === 'root'
          ? html`<form method="post" action="/contest">${csrfField(viewer)}<input type="hidden" name="enabled" value="${on ? 'false' : 'true'}"><button type="submit">${on ? 'Turn contest mode off' : 'Turn contest mode on'}</button></form>`
          : html`<p><small>Only roots switch contest mode.</small></p>`
      }`;
    },
    boot: () => {
      const boot = bootSource(services);
      if (!boot) return html`<h2>Boot progress</h2><p>boot progress unavailable</p>`;
      const byRoom = new Map<string, BootProgressEntry[]>();
      for (const e of boot.snapshot()) {
        const room = e.room ?? 'unknown';
        byRoom.set(room, [...(byRoom.get(room) ?? []), e]);
      }
      return html`<h2>Boot progress</h2>${
        byRoom.size === 0
          ? html`<p><small>No machine has booted since Gatehouse started.</small></p>`
          : [...byRoom].map(
              ([room, entries]) =>
                html`<h3>${room} <small>(${entries.length}; ${PHASES.map(([k, label]) => `${label} ${entries.filter((e) => e.phases[k] !== undefined).length}`).join(', ')})</small></h3><table><thead><tr><th>Machine</th>${PHASES.map(([, l]) => html`<th>${l}</th>`)}</tr></thead><tbody>${entries.map((e) => html`<tr><td>${e.hostname ?? e.mac}</td>${PHASES.map(([k]) => html`<td class="phase">${e.phases[k] !== undefined ? '✓' : '·'}</td>`)}</tr>`)}</tbody></table>`,
            )
      }`;
    },
    rates: () =>
      html`<h2>Request rates</h2><table><tbody>${(['dhcp', 'tftp', 'http'] as const).map((k) => {
        const h = rates.history[k];
        return html`<tr><th>${k.toUpperCase()}</th><td>${h.at(-1) ?? 0}/s</td><td>${sparkline(h)}</td></tr>`;
      })}</tbody></table>`,
  };
  const order: SectionId[] = [
    'health',
    'counts',
    'contest',
    'recent',
    'presence',
    'aliens',
    'lldp',
    'boot',
    'rates',
  ];
  const renderAll = (viewer: Viewer) =>
    order.map((id) => html`<section id="sec-${id}" data-live>${sections[id](viewer)}</section>`);

  site
    .get('/', (r) => {
      hook();
      r.page(
        'Dashboard',
        html`${flash(r.query.get('msg'))}<form method="get" action="/connections" class="filters"><input type="search" name="q" placeholder="login, machine or IP" aria-label="Search the connection log"><button type="submit">Search the connection log</button></form><div class="grid2" id="dashboard" data-events="/events">${renderAll(r.viewer)}</div>`,
        { live: true },
      );
    })
    .get('/events', (r) => {
      hook();
      const { res, req } = r;
      setSecurityHeaders(res);
      res.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-store',
        Connection: 'keep-alive',
      });
      let timer: NodeJS.Timeout | undefined;
      const send = () => {
        timer = undefined;
        const data: Record<string, string> = {};
        for (const id of order) data[`sec-${id}`] = sections[id](r.viewer).text;
        res.write(`event: sections\ndata: ${JSON.stringify(data)}\n\n`);
      };
      const soon = () => {
        if (!timer) timer = setTimeout(send, LIVE_DEBOUNCE_MS);
      };
      listeners.add(soon);
      const tick = setInterval(soon, LIVE_TICK_MS);
      res.write('retry: 2000\n\n');
      req.on('close', () => {
        listeners.delete(soon);
        clearInterval(tick);
        if (timer) clearTimeout(timer);
      });
    })
    .post(
      '/contest',
      async (r) => {
        const enabled = r.form.get('enabled') === 'true';
        await writeContest(store, enabled, `web ${r.viewer.login}`);
        r.redirect(`/?msg=${encodeURIComponent(`Contest mode ${enabled ? 'on' : 'off'}.`)}`);
      },
      'root',
    )
    .get('/connections', (r) => {
      const q = r.query.get('q') ?? '';
      const found = searchConnectionLog(config(), q);
      r.page(
        'Connection log',
        html`<form method="get" action="/connections" class="filters"><input type="search" name="q" value="${q}" placeholder="login, machine or IP" aria-label="Search"><button type="submit">Search</button></form>${found.error ? html`<p>${found.error}</p>` : ''}${q ? html`<p><small>${found.lines.length} newest matching lines of ${found.file}</small></p><pre id="connlog">${found.lines.join('\n')}</pre>` : ''}`,
      );
    });

  return () => {
    unsubscribeStore();
    for (const u of unhook) u();
    rates.stop();
  };
}
