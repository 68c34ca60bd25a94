/**
 * The presencesync_sso mapping (spec §10.1–10.2): client IP → MDB hostname → login, where the
 * login comes from a config override for that hostname or else from presence. Pure: the
 * service hands in the current tables; the answer follows the normative 2019 contract.
 */
import { parseClientIp } from './client-ip.js';

export interface SsoIdentity {
  /**
   * `X-SSO-Status`: `authenticated`, `unknown IP <ip>`, `logged-out machine <h>`,
   * `missing header X-Real-IP` or `invalid X-Real-IP <value> (<reason>)`.
   */
  status: string;
  /** `X-SSO-User`, only when authenticated. */
  user?: string;
}

export type SsoOutcome = 'authenticated' | 'unknown_ip' | 'logged_out' | 'missing_header' | 'invalid_ip';

export const MISSING_HEADER = 'missing header X-Real-IP';
export const AUTHENTICATED = 'authenticated';
const INVALID = 'invalid X-Real-IP';

export interface SsoTables {
  ipToHost: ReadonlyMap<string, string>;
  hostToLogin: ReadonlyMap<string, string>;
  /** hostname → login, taking precedence over presence (`presencesync-sso.yml: overrides`). */
  overrides: ReadonlyMap<string, string>;
}

// Header values are echoed back: keep them printable ASCII and short whatever the client sent.
const UNPRINTABLE = /[^\x20-\x7e]/g;
export function headerSafe(text: string, max = 128): string {
  const clean = text.replace(UNPRINTABLE, '?');
  return clean.length > max ? `${clean.slice(0, max)}...` : clean;
}

export function classify(identity: SsoIdentity): SsoOutcome {
  if (identity.user !== undefined) return 'authenticated';
  if (identity.status === MISSING_HEADER) return 'missing_header';
  if (identity.status.startsWith(INVALID)) return 'invalid_ip';
  return identity.status.startsWith('unknown IP') ? 'unknown_ip' : 'logged_out';
}

/** The answer for a client IP (undefined: no `X-Real-IP` header). */
export function ssoLookup(ip: string | undefined, tables: SsoTables): SsoIdentity {
  if (ip === undefined || ip.trim() === '') return { status: MISSING_HEADER };
  const parsed = parseClientIp(ip);
  if (!parsed.ok) {
    return { status: headerSafe(`${INVALID} ${headerSafe(ip.trim(), 64)} (${parsed.reason})`, 256) };
  }
  // Every spelling of one address reaches the same canonical form, hence the same answer.
  const addr = parsed.ip;
  const hostname = tables.ipToHost.get(addr);
  if (hostname === undefined) return { status: headerSafe(`unknown IP ${addr}`) };
  const login = tables.overrides.get(hostname) ?? tables.hostToLogin.get(hostname);
  if (login === undefined || login === '') return { status: headerSafe(`logged-out machine ${hostname}`) };
  return { status: AUTHENTICATED, user: headerSafe(login) };
}

/** ip → hostname for every machine; with duplicate IPs (an inconsistent MDB) the first hostname in key order wins. */
export function buildIpToHost(machines: Iterable<{ hostname: string; ip: string }>): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of machines) if (m.ip && !out.has(m.ip)) out.set(m.ip, m.hostname);
  return out;
}

/**
 * hostname → login from presence sessions (login → hostname) in feed order: when two sessions
 * claim one machine (possible after the original's displaced-user quirks), the later wins.
 */
export function buildHostToLogin(sessions: ReadonlyMap<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [login, hostname] of sessions) out.set(hostname, login);
  return out;
}

/** Config overrides; an empty `overrides:` key is YAML null and means none. */
export function buildOverrides(overrides: Record<string, string> | null | undefined): Map<string, string> {
  return new Map(Object.entries(overrides ?? {}));
}
