import type { ServerResponse } from 'node:http';

export { readBody } from './body.js';

export function sendText(res: ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8', reason?: string): void {
  const buf = Buffer.from(body, 'utf8');
  if (reason) res.statusMessage = reason;
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': buf.length });
  res.end(buf);
}

export function sendJson(res: ServerResponse, status: number, value: unknown, contentType = 'application/json'): void {
  sendText(res, status, JSON.stringify(value) + '\n', contentType);
}

/**
 * Query-string and form values the way Tornado hands them to the original handlers: control
 * characters \x00-\x08 and \x0e-\x1f become spaces and surrounding whitespace is stripped
 * (spec §1.4) — the HMAC is then checked over that cleaned value.
 */
export function tornadoArgument(value: string | null): string | null {
  if (value === null) return null;
  return value.replace(/[\x00-\x08\x0e-\x1f]/g, ' ').trim();
}

/** Parses `application/x-www-form-urlencoded` bodies. */
export function parseForm(body: Buffer): URLSearchParams {
  return new URLSearchParams(body.toString('utf8'));
}
