import type { ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import type { SafeHtml } from './html.js';

/**
 * Headers every admin page carries: scripts only from Gatehouse itself (no inline script, no
 * eval), never framed (clickjacking of the forms), no MIME sniffing, no referrer leaving the LAN.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
};

export function setSecurityHeaders(res: ServerResponse): void {
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
}

/** Gzip pays off above a few KB (a 250-row machine list is ~60 KB of markup). */
const GZIP_MIN = 2048;

export function acceptsGzip(acceptEncoding: string | string[] | undefined): boolean {
  return /\bgzip\b/.test(String(acceptEncoding ?? ''));
}

/** Sends a page (never cached: it shows live data and a CSRF token). */
export function sendPage(
  res: ServerResponse,
  status: number,
  page: SafeHtml,
  opts: { gzip?: boolean; headers?: Record<string, string> } = {},
): void {
  setSecurityHeaders(res);
  let body: Buffer = Buffer.from(page.text, 'utf8');
  const headers: Record<string, string | number> = {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    Vary: 'Accept-Encoding, Cookie',
    ...opts.headers,
  };
  if (opts.gzip && body.length >= GZIP_MIN) {
    body = gzipSync(body, { level: 4 });
    headers['Content-Encoding'] = 'gzip';
  }
  headers['Content-Length'] = body.length;
  res.writeHead(status, headers);
  res.end(body);
}

/** POST-redirect-GET (303 so the browser follows with a GET). */
export function redirect(
  res: ServerResponse,
  location: string,
  headers: Record<string, string | string[]> = {},
): void {
  setSecurityHeaders(res);
  res.writeHead(303, { Location: location, 'Cache-Control': 'no-store', 'Content-Length': 0, ...headers });
  res.end();
}
