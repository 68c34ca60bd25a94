/**
 * iPXE's two requests: `GET /bootstrap`, then `GET /boot/<mac>/`, on one keep-alive connection
 * from the machine's leased address with `Host: netboot` (iPXE sends the URL's host name).
 */
import http from 'node:http';
import { type HttpReply, sendHttpRequest } from '../../test/helpers/http-request.js';

export type HttpResponse = HttpReply;

export type BootScriptsResult =
  | { ok: true; bootstrap: HttpResponse; boot: HttpResponse; bootstrapMs: number }
  | { ok: false; reason: string; step: 'bootstrap' | 'boot' };

function get(
  agent: http.Agent,
  server: string,
  port: number,
  path: string,
  localAddress: string,
  timeoutMs: number,
): Promise<HttpResponse> {
  return sendHttpRequest(
    {
      host: server,
      port,
      path,
      agent,
      localAddress,
      headers: { Host: 'netboot', 'User-Agent': 'iPXE/1.21.1' },
    },
    { timeoutMs, timeoutMessage: 'timeout' },
  );
}

function reasonOf(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code ? err.code.toLowerCase() : err.message === 'timeout' ? 'timeout' : 'error';
}

export async function fetchBootScripts(opts: {
  server: string;
  port?: number;
  mac: string;
  localAddress: string;
  timeoutMs: number;
}): Promise<BootScriptsResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const port = opts.port ?? 80;
  const t0 = performance.now();
  try {
    let bootstrap: HttpResponse;
    try {
      bootstrap = await get(agent, opts.server, port, '/bootstrap', opts.localAddress, opts.timeoutMs);
    } catch (e) {
      return { ok: false, step: 'bootstrap', reason: reasonOf(e) };
    }
    if (bootstrap.status !== 200)
      return { ok: false, step: 'bootstrap', reason: `status-${bootstrap.status}` };
    const bootstrapMs = performance.now() - t0;
    const left = Math.max(1, opts.timeoutMs - bootstrapMs);
    let boot: HttpResponse;
    try {
      boot = await get(agent, opts.server, port, `/boot/${opts.mac}/`, opts.localAddress, left);
    } catch (e) {
      return { ok: false, step: 'boot', reason: reasonOf(e) };
    }
    if (boot.status !== 200) return { ok: false, step: 'boot', reason: `status-${boot.status}` };
    return { ok: true, bootstrap, boot, bootstrapMs };
  } finally {
    agent.destroy();
  }
}
