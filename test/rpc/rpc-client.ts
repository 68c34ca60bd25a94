import { request } from 'undici';
import { generateToken } from '../../src/sync/timeauth.js';

/** A test client speaking §1.3 like `prologin/rpc/client.py` (POST, JSON + "\n", optional hmac). */
export interface RpcAnswer {
  status: number;
  contentType: string | undefined;
  text: string;
  body: { type: string; data?: unknown; exn_type?: string; exn_message?: string; exn_traceback?: unknown[] };
}

export async function rpcCall(
  baseUrl: string,
  host: string,
  method: string,
  opts: {
    args?: unknown[];
    kwargs?: Record<string, unknown>;
    secret?: string;
    hmac?: string;
    ts?: number;
  } = {},
): Promise<RpcAnswer> {
  const payload: Record<string, unknown> = { args: opts.args ?? [], kwargs: opts.kwargs ?? {} };
  if (opts.hmac !== undefined) payload.hmac = opts.hmac;
  else if (opts.secret !== undefined) payload.hmac = generateToken(opts.secret, method, opts.ts);
  return rawCall(baseUrl, host, `/call/${method}`, 'POST', JSON.stringify(payload) + '\n');
}

export async function rawCall(
  baseUrl: string,
  host: string,
  path: string,
  method: string,
  body?: string | Buffer,
): Promise<RpcAnswer> {
  const res = await request(`${baseUrl}${path}`, {
    method: method as 'POST',
    headers: { host },
    ...(body !== undefined ? { body } : {}),
  });
  const text = await res.body.text();
  let parsed: RpcAnswer['body'];
  try {
    parsed = JSON.parse(text) as RpcAnswer['body'];
  } catch {
    parsed = { type: 'not-json' };
  }
  const ct = res.headers['content-type'];
  return { status: res.statusCode, contentType: Array.isArray(ct) ? ct[0] : ct, text, body: parsed };
}
