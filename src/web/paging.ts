import { html, type SafeHtml } from './html.js';

export const PAGE_SIZE = 250;

/** A URL of the current list with some query parameters changed (empty values dropped). */
export function withQuery(
  base: string,
  query: URLSearchParams,
  changes: Record<string, string | undefined>,
): string {
  const q = new URLSearchParams(query);
  q.delete('msg');
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined || v === '') q.delete(k);
    else q.set(k, v);
  }
  const s = q.toString();
  return s ? `${base}?${s}` : base;
}

export function pageOf<T>(
  items: readonly T[],
  query: URLSearchParams,
): { rows: T[]; page: number; pages: number } {
  const pages = Math.max(1, Math.ceil(items.length / PAGE_SIZE));
  const asked = Number.parseInt(query.get('page') ?? '1', 10);
  const page = Number.isFinite(asked) ? Math.min(Math.max(1, asked), pages) : 1;
  return { rows: items.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE), page, pages };
}

export function pager(
  base: string,
  query: URLSearchParams,
  page: number,
  pages: number,
  total: number,
): SafeHtml {
  if (pages <= 1) return html`<p><small>${total} shown</small></p>`;
  return html`<p class="pager"><small>${total} in ${pages} pages</small>${page > 1 ? html`<a href="${withQuery(base, query, { page: String(page - 1) })}">← previous</a>` : ''}<span>page ${page} of ${pages}</span>${page < pages ? html`<a href="${withQuery(base, query, { page: String(page + 1) })}">next →</a>` : ''}</p>`;
}

/** A sortable column header: clicking sorts by it, clicking again reverses. */
export function sortHeader(base: string, query: URLSearchParams, field: string, label: string): SafeHtml {
  const current = query.get('sort') ?? '';
  const next = current === field ? `-${field}` : field;
  const mark = current === field ? ' ▲' : current === `-${field}` ? ' ▼' : '';
  return html`<th><a href="${withQuery(base, query, { sort: next, page: undefined })}">${label}${mark}</a></th>`;
}

/** Compares IPv4 addresses numerically, anything else as text. */
export function compareValues(a: unknown, b: unknown): number {
  if (typeof a === 'string' && typeof b === 'string') {
    const ia = ipNumber(a);
    const ib = ipNumber(b);
    if (ia !== undefined && ib !== undefined) return ia - ib;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

function ipNumber(s: string): number | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (!m) return undefined;
  return ((Number(m[1]) * 256 + Number(m[2])) * 256 + Number(m[3])) * 256 + Number(m[4]);
}

export function sortBy<T>(
  items: T[],
  query: URLSearchParams,
  allowed: readonly string[],
  fallback: string,
): T[] {
  const asked = query.get('sort') ?? fallback;
  const desc = asked.startsWith('-');
  const field = desc ? asked.slice(1) : asked;
  if (!allowed.includes(field)) return items;
  const sign = desc ? -1 : 1;
  return items.sort(
    (a, b) =>
      sign * compareValues((a as Record<string, unknown>)[field], (b as Record<string, unknown>)[field]),
  );
}
