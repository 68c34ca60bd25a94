import { Agent, request } from 'undici';
import { generateToken } from '../../src/sync/timeauth.js';

/** A `/poll` stream read line by line; `next()` waits at most `timeoutMs` for the next line. */
export interface PollStream {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  next(timeoutMs?: number): Promise<string>;
  /** Resolves with true when no line arrives within `ms` (nothing was sent). */
  quiet(ms: number): Promise<boolean>;
  close(): Promise<void>;
  text(): Promise<string>;
}

export async function openPoll(baseUrl: string, host: string, query: string): Promise<PollStream> {
  const dispatcher = new Agent({ bodyTimeout: 0, headersTimeout: 10_000 });
  const res = await request(`${baseUrl}/poll${query}`, { headers: { host }, dispatcher });
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  let ended = false;
  let buf = '';
  const wake = () => {
    while (waiters.length) waiters.shift()!();
  };
  res.body.on('data', (chunk: Buffer) => {
    buf += chunk.toString('utf8');
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
    wake();
  });
  res.body.on('end', () => {
    ended = true;
    if (buf) lines.push(buf);
    wake();
  });
  res.body.on('error', () => {
    ended = true;
    wake();
  });
  const next = async (timeoutMs = 2000): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    while (lines.length === 0) {
      if (ended) throw new Error('stream ended');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no line within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return lines.shift()!;
  };
  return {
    status: res.statusCode,
    headers: res.headers,
    next,
    async quiet(ms) {
      try {
        await next(ms);
        return false;
      } catch {
        return true;
      }
    },
    async close() {
      res.body.destroy();
      await dispatcher.destroy();
    },
    async text() {
      while (!ended) await new Promise<void>((r) => waiters.push(r));
      const all = lines.join('\n');
      lines.length = 0;
      return all;
    },
  };
}

export function pollQuery(secret: string, extra = ''): string {
  return `?data=${encodeURIComponent('{}')}&hmac=${encodeURIComponent(generateToken(secret, null))}${extra}`;
}

export async function postUpdate(
  baseUrl: string,
  host: string,
  data: string,
  secret: string,
  method = 'POST',
) {
  const body = new URLSearchParams({ data, hmac: generateToken(secret, data) }).toString();
  const res = await request(`${baseUrl}/update`, {
    method: method as 'POST',
    headers: { host, 'content-type': 'application/x-www-form-urlencoded' },
    ...(method === 'GET' ? {} : { body }),
  });
  return { status: res.statusCode, statusText: res.statusText, text: await res.body.text() };
}
