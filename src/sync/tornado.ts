import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatehouseError } from '../errors.js';
import { parseForm, readBody, sendText, tornadoArgument } from '../http/respond.js';
import { checkToken } from './timeauth.js';

/**
 * What the original Tornado handlers (sync servers, presencesync) looked like from the wire:
 * arguments from the query string and, for form bodies, the body (the last value wins, as
 * `get_argument` returns it), cleaned by `tornadoArgument`; error pages in Tornado's format;
 * `prologin.tornadauth.signature_checked` verifying the `hmac` argument.
 */
export class TornadoArgs {
  constructor(private readonly values: Map<string, string[]>) {}

  /** The last value of `name`, cleaned like Tornado's get_argument, or null when absent. */
  get(name: string): string | null {
    const all = this.values.get(name);
    return all && all.length > 0 ? tornadoArgument(all[all.length - 1]!) : null;
  }
}

export async function readTornadoArgs(
  req: IncomingMessage,
  url: URL,
  maxBodyBytes: number,
): Promise<TornadoArgs> {
  const type = String(req.headers['content-type'] ?? '').toLowerCase();
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    const body = await readBody(req, maxBodyBytes);
    // Tornado parses only form bodies into arguments.
    if (type.startsWith('application/x-www-form-urlencoded')) return argsFrom(url.searchParams, body);
  }
  return argsFrom(url.searchParams);
}

/** Arguments from the query string and, when given, a form body (pure: the fuzz harness uses it). */
export function argsFrom(query: URLSearchParams, formBody?: Buffer): TornadoArgs {
  const values = new Map<string, string[]>();
  const add = (params: URLSearchParams) => {
    for (const [k, v] of params) {
      const list = values.get(k);
      if (list) list.push(v);
      else values.set(k, [v]);
    }
  };
  add(query);
  if (formBody) add(parseForm(formBody));
  return new TornadoArgs(values);
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Payload Too Large',
  500: 'Internal Server Error',
};

/** Tornado's default error page (`<html><title>404: Not Found</title>…`). */
export function sendTornadoError(res: ServerResponse, status: number): void {
  const reason = REASONS[status] ?? 'Error';
  sendText(
    res,
    status,
    `<html><title>${status}: ${reason}</title><body>${status}: ${reason}</body></html>`,
    'text/html; charset=UTF-8',
  );
}

export function sendInvalidToken(res: ServerResponse): void {
  sendText(res, 403, 'Invalid token', 'text/html; charset=UTF-8', 'Invalid token');
}

export type SignedResult = { ok: true; data: string } | { ok: false; status: 400 | 403; reason: string };

/**
 * `signature_checked(secret, check_msg)`: `data` and `hmac` must both be present (400), then the
 * token must verify with `secret` over the cleaned `data` value (check_msg) or over `None`.
 */
export function checkSigned(
  args: TornadoArgs,
  secret: string,
  opts: { checkMsg: boolean; timeauthEnabled: boolean; now?: number },
): SignedResult {
  const data = args.get('data');
  if (data === null) return { ok: false, status: 400, reason: 'Missing argument data' };
  const hmac = args.get('hmac');
  if (hmac === null) return { ok: false, status: 400, reason: 'Missing argument hmac' };
  const ok = checkToken(hmac, secret, opts.checkMsg ? data : null, {
    enabled: opts.timeauthEnabled,
    ...(opts.now !== undefined ? { now: opts.now } : {}),
  });
  return ok ? { ok: true, data } : { ok: false, status: 403, reason: 'Invalid token' };
}

/** Answers a failed `checkSigned` the way the original did. */
export function sendSignedFailure(res: ServerResponse, failure: { status: 400 | 403 }): void {
  if (failure.status === 403) sendInvalidToken(res);
  else sendTornadoError(res, 400);
}

export function isTooLarge(e: unknown): boolean {
  return e instanceof GatehouseError && e.code === 'GH_PAYLOAD_TOO_LARGE';
}
