import { request } from 'undici';

/** How the CLI reaches a running server's admin API: same headers for every command. */
export function adminHeaders(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
}

export interface AdminReply {
  status: number;
  /** The JSON body, or `{ error: text }` when the body is not JSON (a proxy's page, a crash). */
  json: Record<string, unknown>;
  text: string;
}

/** One JSON request to `http://<server>/<path>` with the admin token; never throws on a 4xx/5xx. */
export async function adminCall(
  server: string,
  token: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<AdminReply> {
  const res = await request(`http://${server}${path}`, {
    method,
    headers: adminHeaders(token),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.body.text();
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { error: text.trim() };
  }
  return { status: res.statusCode, json, text };
}
