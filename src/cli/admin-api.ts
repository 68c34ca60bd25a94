import http from 'node:http';

/**
 * How the CLI reaches a running server's admin API: same headers for every command, over
 * node:http (already in the runtime: an HTTP client library would cost more start-up time than
 * the whole call).
 */
export function adminHeaders(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
}

/**
 * Sends one request to `http://<server><path>` with the admin token and resolves with the
 * response once its headers arrived; the body is read by the caller. One connection per call
 * (no keep-alive agent), so nothing holds the process open afterwards.
 */
export function adminRequest(
  server: string,
  token: string,
  method: 'GET' | 'POST',
  path: string,
  body?: string,
): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = http.request(`http://${server}${path}`, {
      method,
      headers: adminHeaders(token),
      agent: false,
    });
    req.on('response', resolve);
    req.on('error', reject);
    req.end(body);
  });
}

export async function readText(res: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export interface AdminReply {
  status: number;
  /** The JSON body, or `{ error: text }` when the body is not JSON (a proxy's page, a crash). */
  json: Record<string, unknown>;
  text: string;
}

/** One JSON request with the admin token; never throws on a 4xx/5xx. */
export async function adminCall(
  server: string,
  token: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<AdminReply> {
  const res = await adminRequest(
    server,
    token,
    method,
    path,
    body === undefined ? undefined : JSON.stringify(body),
  );
  const text = await readText(res);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { error: text.trim() };
  }
  return { status: res.statusCode ?? 0, json, text };
}
