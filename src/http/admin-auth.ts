import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatehouseConfig } from '../config/index.js';
import { sendJson } from './respond.js';

/**
 * The admin API (/api/v1) takes `Authorization: Bearer <secrets.adminToken>`. Answers 401 and
 * returns false when the credential is missing or wrong.
 */
export function requireAdmin(req: IncomingMessage, res: ServerResponse, config: GatehouseConfig): boolean {
  const header = req.headers.authorization ?? '';
  const m = /^Bearer\s+(.+)$/i.exec(header);
  const expected = Buffer.from(config.secrets.adminToken);
  const given = Buffer.from(m?.[1]?.trim() ?? '');
  if (m && given.length === expected.length && timingSafeEqual(given, expected)) return true;
  res.setHeader('WWW-Authenticate', 'Bearer realm="gatehouse"');
  sendJson(res, 401, {
    error: 'admin API needs "Authorization: Bearer <secrets.adminToken>"',
    code: 'GH_UNAUTHORIZED',
  });
  return false;
}
