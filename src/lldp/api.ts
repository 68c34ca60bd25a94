import type { GatehouseConfig } from '../config/index.js';
import { errorMessage, isGatehouseError } from '../errors.js';
import { requireAdmin } from '../http/admin-auth.js';
import { readBody, sendJson } from '../http/respond.js';
import type { Handler } from '../http/server.js';
import type { Switch } from '../mdb/model.js';
import type { Neighbour } from './neighbours.js';

export const LLDP_API_PREFIX = '/api/v1/lldp/';

/** What the operator sends to turn a neighbour into an MDB switch (spec §6.5). */
export interface SwitchRequest {
  name?: unknown;
  rfs?: unknown;
  hfs?: unknown;
  room?: unknown;
}

export interface LldpApiDeps {
  config: () => GatehouseConfig;
  neighbours: () => Neighbour[];
  /** Creates the MDB switch (validation, lowercasing and uniqueness are MDB's); returns it as stored. */
  createSwitch: (fields: {
    name: string;
    chassis: string;
    rfs: unknown;
    hfs: unknown;
    room: unknown;
  }) => Promise<Switch>;
}

/**
 * Admin API of the LLDP listener (Bearer `secrets.adminToken`):
 *   GET  /api/v1/lldp/neighbours                     → {"neighbours": [...]}
 *   POST /api/v1/lldp/neighbours/<chassis>/switch    {"name","rfs","hfs","room"} → 201 {"switch": {...}}
 * The second saves the chassis ID the switch announced, so nobody copies it by hand.
 */
export function lldpApi(deps: LldpApiDeps): Handler {
  return async (req, res, ctx) => {
    if (!requireAdmin(req, res, deps.config())) return;
    const rest = ctx.url.pathname.slice(LLDP_API_PREFIX.length);
    if (rest === 'neighbours' || rest === 'neighbours/') {
      if (req.method !== 'GET') {
        sendJson(res, 405, { error: 'use GET', code: 'GH_BAD_REQUEST' });
        return;
      }
      sendJson(res, 200, { neighbours: deps.neighbours() });
      return;
    }
    const m = /^neighbours\/([^/]+)\/switch$/.exec(rest);
    if (!m) {
      sendJson(res, 404, { error: `no LLDP API at ${ctx.url.pathname}`, code: 'GH_NOT_FOUND' });
      return;
    }
    if (req.method !== 'POST') {
      sendJson(res, 405, { error: 'use POST', code: 'GH_BAD_REQUEST' });
      return;
    }
    let chassis: string;
    try {
      chassis = decodeURIComponent(m[1]!).toLowerCase();
    } catch {
      sendJson(res, 400, {
        error: 'the chassis ID in the path is not valid percent-encoding',
        code: 'GH_BAD_REQUEST',
      });
      return;
    }
    const seen = deps.neighbours().filter((n) => n.chassis.toLowerCase() === chassis);
    if (seen.length === 0) {
      sendJson(res, 404, {
        error: `no LLDP neighbour with chassis ID ${chassis} is known right now; list them with GET ${LLDP_API_PREFIX}neighbours`,
        code: 'GH_NOT_FOUND',
      });
      return;
    }
    let body: SwitchRequest;
    try {
      const text = (await readBody(req, 64 * 1024)).toString('utf8');
      body = text.trim() === '' ? {} : (JSON.parse(text) as SwitchRequest);
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        throw new Error('expected a JSON object');
    } catch (e) {
      sendJson(res, 400, { error: `invalid request body: ${errorMessage(e)}`, code: 'GH_BAD_REQUEST' });
      return;
    }
    const name = body.name ?? seen[0]!.systemName ?? chassis;
    if (typeof name !== 'string' || name === '') {
      sendJson(res, 400, { error: '"name" must be a non-empty string', code: 'GH_VALIDATION' });
      return;
    }
    try {
      const created = await deps.createSwitch({
        name,
        chassis,
        rfs: body.rfs ?? 0,
        hfs: body.hfs ?? 0,
        room: body.room ?? 'other',
      });
      ctx.logger.info('lldp.switch_created', { ...created, client: ctx.remoteAddress });
      sendJson(res, 201, { switch: created });
    } catch (e) {
      // MDB validation (bad room, non-MAC chassis, switch already registered) is the caller's to fix.
      const code = isGatehouseError(e) ? e.code : 'GH_INTERNAL';
      const status = code === 'GH_VALIDATION' ? 400 : code === 'GH_STORE_CONFLICT' ? 409 : 500;
      const fields = isGatehouseError(e) ? e.details?.fields : undefined;
      sendJson(res, status, { error: errorMessage(e), code, ...(fields ? { fields } : {}) });
    }
  };
}
