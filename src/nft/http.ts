import type { GatehouseConfig } from '../config/index.js';
import { errorMessage, isGatehouseError } from '../errors.js';
import { requireAdmin } from '../http/admin-auth.js';
import { readBody, sendJson } from '../http/respond.js';
import type { Handler } from '../http/server.js';

/**
 * Admin API of the firewall on the default host (Bearer secrets.adminToken):
 *   GET  /api/v1/firewall/status            state, allowed set, counters
 *   GET  /api/v1/firewall/check             the kernel's table compared with the plan
 *   POST /api/v1/firewall/contest           {"enabled": true|false} (or ?enabled=on|off)
 *   POST /api/v1/firewall/recompute         recompute and apply the allowed set now
 *   POST /api/v1/firewall/up | /down        re-create / remove the table
 */
export function parseSwitch(v: unknown): boolean | undefined {
  if (v === true || v === false) return v;
  if (typeof v !== 'string') return undefined;
  const s = v.trim().toLowerCase();
  if (['on', 'true', '1', 'yes', 'enable', 'enabled'].includes(s)) return true;
  if (['off', 'false', '0', 'no', 'disable', 'disabled'].includes(s)) return false;
  return undefined;
}

/**
 * What the route asks of the firewall. Declared here, where it is used, so the route depends on
 * these calls only and the service (which mounts the route) is the one that looks down at it.
 * Results are sent as JSON as they are.
 */
export interface FirewallControl {
  status(): object;
  check(): Promise<object>;
  contestEnabled(): boolean;
  allowedGroups(): readonly string[];
  setContest(enabled: boolean, by: string): Promise<object>;
  recompute(reason: string, opts: { force?: boolean }): Promise<object>;
  bringUpAgain(reason: string): Promise<void>;
  takeDown(reason: string): Promise<void>;
}

export function firewallRoute(service: FirewallControl, config: () => GatehouseConfig): Handler {
  return async (req, res, ctx) => {
    if (!requireAdmin(req, res, config())) return;
    const action = ctx.url.pathname.slice('/api/v1/firewall/'.length).replace(/\/$/, '');
    const method = req.method ?? 'GET';
    const wrongMethod = (want: string) =>
      sendJson(res, 405, { error: `use ${want} for /api/v1/firewall/${action}`, code: 'GH_BAD_REQUEST' });
    try {
      switch (action) {
        case 'status':
          if (method !== 'GET') return wrongMethod('GET');
          sendJson(res, 200, service.status());
          return;
        case 'check':
          if (method !== 'GET') return wrongMethod('GET');
          sendJson(res, 200, await service.check());
          return;
        case 'contest': {
          if (method === 'GET') {
            sendJson(res, 200, { contest: service.contestEnabled(), allowedGroups: service.allowedGroups() });
            return;
          }
          if (method !== 'POST') return wrongMethod('POST');
          const raw = (await readBody(req, 4096)).toString('utf8').trim();
          let value: unknown = ctx.url.searchParams.get('enabled') ?? undefined;
          if (value === undefined && raw) {
            try {
              const body = JSON.parse(raw) as unknown;
              value =
                typeof body === 'object' && body !== null ? (body as { enabled?: unknown }).enabled : body;
            } catch {
              value = raw;
            }
          }
          const enabled = parseSwitch(value);
          if (enabled === undefined) {
            sendJson(res, 400, {
              error: 'say {"enabled": true} or {"enabled": false} (or ?enabled=on|off)',
              code: 'GH_BAD_REQUEST',
            });
            return;
          }
          const outcome = await service.setContest(enabled, `api ${ctx.remoteAddress}`);
          sendJson(res, 200, {
            contest: enabled,
            allowedGroups: service.allowedGroups(),
            recompute: outcome,
          });
          return;
        }
        case 'recompute':
          if (method !== 'POST') return wrongMethod('POST');
          sendJson(res, 200, await service.recompute('api', { force: true }));
          return;
        case 'up':
          if (method !== 'POST') return wrongMethod('POST');
          await service.bringUpAgain('api');
          sendJson(res, 200, service.status());
          return;
        case 'down':
          if (method !== 'POST') return wrongMethod('POST');
          await service.takeDown('api');
          sendJson(res, 200, service.status());
          return;
        default:
          sendJson(res, 404, {
            error: `no firewall action "${action}" (status, check, contest, recompute, up, down)`,
            code: 'GH_NOT_FOUND',
          });
      }
    } catch (e) {
      sendJson(res, 500, { error: errorMessage(e), code: isGatehouseError(e) ? e.code : 'GH_INTERNAL' });
    }
  };
}
