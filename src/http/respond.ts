import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatehouseError } from '../errors.js';

export function sendText(res: ServerResponse, status: number, body: string, contentType = 'text/plain; charset=utf-8', reason?: string): void {
  const buf = Buffer.from(body, 'utf8');
  if (reason) res.statusMessage = reason;
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': buf.length });
  res.end(buf);
}

export function sendJson(res: ServerResponse, status: number, value: unknown, contentType = 'application/json'): void {
  sendText(res, status, JSON.stringify(value) + '\n', contentType);
}

/** Reads the whole body, refusing more than `limit` bytes with GH_PAYLOAD_TOO_LARGE. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      reject(new GatehouseError('GH_PAYLOAD_TOO_LARGE', `request body of ${declared} bytes exceeds the ${limit}-byte limit`));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new GatehouseError('GH_PAYLOAD_TOO_LARGE', `request body exceeds the ${limit}-byte limit`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
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
