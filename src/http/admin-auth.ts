import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatehouseConfig } from '../config/index.js';
import { sendJson } from './respond.js';

/**
 * Who may use the admin API (spec §2.5 and §7.4): roots manage everything; organizers may list
 * users and edit those who are not roots, nothing else (they "cannot access MDB admin").
 */
export type AdminRole = 'root' | 'orga';

export interface AdminPrincipal {
  role: AdminRole;
  /** The UDB login, or null for the appliance's own token (the CLI, automation). */
  login: string | null;
  via: 'token' | 'password' | 'sso';
}

/**
 * Where user credentials come from, as in the original Django admins: a UDB login and password,
 * or the SSO identity of the TCP peer (the user logged in on that machine, from presence).
 */
export interface AdminDirectory {
  user(login: string): { group: string; password: string } | undefined;
  /** The login SSO gives the peer's address, if any. Never read from client-sent headers. */
  ssoLogin(ip: string): string | undefined;
}

/** Constant-time comparison of two secrets (also used by the admin web pages' sign-in). */
export function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The admin role of a UDB group: roots and organizers only. */
export function roleOf(group: string): AdminRole | undefined {
  return group === 'root' ? 'root' : group === 'orga' ? 'orga' : undefined;
}

function unauthorized(res: ServerResponse, directory: AdminDirectory | undefined, why: string): undefined {
  res.setHeader(
    'WWW-Authenticate',
    directory ? 'Bearer realm="gatehouse", Basic realm="gatehouse"' : 'Bearer realm="gatehouse"',
  );
  sendJson(res, 401, { error: why, code: 'GH_UNAUTHORIZED' });
  return undefined;
}

function forbidden(res: ServerResponse, why: string): undefined {
  sendJson(res, 403, { error: why, code: 'GH_FORBIDDEN' });
  return undefined;
}

const HOW =
  'send "Authorization: Bearer <secrets.adminToken>", or a root/organizer UDB login with HTTP Basic, or call from the machine you are logged in on (SSO)';

/**
 * Authenticates an admin API request and answers 401/403 itself when it fails. `need` is the
 * least role the endpoint accepts. Without a directory only the token is accepted.
 */
export function authenticateAdmin(
  req: IncomingMessage,
  res: ServerResponse,
  config: GatehouseConfig,
  remoteIp: string,
  directory: AdminDirectory | undefined,
  need: AdminRole,
): AdminPrincipal | undefined {
  const header = req.headers.authorization ?? '';
  let principal: AdminPrincipal | undefined;
  const bearer = /^Bearer\s+(.+)$/i.exec(header);
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (bearer) {
    if (!sameSecret(bearer[1]!.trim(), config.secrets.adminToken))
      return unauthorized(res, directory, `wrong admin token; ${HOW}`);
    principal = { role: 'root', login: null, via: 'token' };
  } else if (basic && directory) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const login = colon >= 0 ? decoded.slice(0, colon) : decoded;
    const user = directory.user(login);
    // Compare even for an unknown login, so the answer time does not tell which logins exist.
    const ok = sameSecret(colon >= 0 ? decoded.slice(colon + 1) : '', user?.password ?? '\u0000unknown');
    if (!user || !ok) return unauthorized(res, directory, `wrong login or password; ${HOW}`);
    const role = roleOf(user.group);
    if (!role)
      return forbidden(res, `${login} is in group ${user.group}: the admin API is for organizers and roots`);
    principal = { role, login, via: 'password' };
  } else if (header === '' && directory) {
    const login = directory.ssoLogin(remoteIp);
    const user = login === undefined ? undefined : directory.user(login);
    const role = user ? roleOf(user.group) : undefined;
    if (login === undefined)
      return unauthorized(res, directory, `no credentials and no SSO identity for ${remoteIp}; ${HOW}`);
    if (!role)
      return forbidden(
        res,
        `${login} (SSO) is not an organizer or root: the admin API is for organizers and roots`,
      );
    principal = { role, login, via: 'sso' };
  } else {
    return unauthorized(res, directory, `admin API credentials missing or not understood; ${HOW}`);
  }
  if (need === 'root' && principal.role !== 'root') {
    return forbidden(
      res,
      `${principal.login} is an organizer: this needs a root (spec: organizers manage users, roots everything)`,
    );
  }
  return principal;
}

/**
 * The root-only endpoints the CLI drives (operations, firewall, LLDP): the admin token.
 * Answers 401 and returns false when the credential is missing or wrong.
 */
export function requireAdmin(req: IncomingMessage, res: ServerResponse, config: GatehouseConfig): boolean {
  return authenticateAdmin(req, res, config, '', undefined, 'root') !== undefined;
}
