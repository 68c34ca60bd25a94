import type { Machine } from '../mdb/model.js';
import type { User, UserGroup } from '../udb/model.js';

/**
 * The `allowed_internet_access` set of spec §11.2 as a pure function of MDB, UDB, presence
 * and the allowed groups:
 *  - nothing at all while MDB or UDB is empty (the original waited for both feeds; scenario 76);
 *  - every `orga` machine, whoever is logged on;
 *  - the machine of every session whose user's group is allowed, by hostname (first MDB
 *    machine with that hostname);
 *  - a session of a login unknown to UDB is skipped (the original raised and aborted the
 *    whole recomputation — spec marks it as a bug to fix);
 *  - addresses outside the LAN are dropped, as the original bitmap:ip set refused them.
 */
export interface AllowedInput {
  machines: readonly Pick<Machine, 'hostname' | 'ip' | 'mtype'>[];
  users: readonly Pick<User, 'login' | 'group'>[];
  /** login → hostname. */
  sessions: ReadonlyMap<string, string>;
  allowedGroups: readonly UserGroup[];
  /** The LAN (`192.168.0.0/23`); addresses outside are left out. Omitted: keep everything. */
  lan?: string;
}

export type AllowedResult =
  | { kind: 'skip'; reason: 'empty MDB' | 'empty UDB' }
  | {
      kind: 'set';
      /** Sorted numerically, unique. */
      ips: string[];
      /** Sessions whose login is not in UDB. */
      unknownLogins: string[];
      /** Sessions on a hostname MDB does not know. */
      unknownHosts: string[];
      /** Machine addresses outside the LAN, left out. */
      outsideLan: string[];
    };

function ipNumber(ip: string): number | undefined {
  const p = ip.split('.');
  if (p.length !== 4) return undefined;
  let n = 0;
  for (const s of p) {
    if (!/^\d{1,3}$/.test(s)) return undefined;
    const v = Number(s);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

export function inSubnet(ip: string, cidr: string): boolean {
  const [base, len] = cidr.split('/');
  const n = ipNumber(ip);
  const b = ipNumber(base ?? '');
  const prefix = Number(len ?? '32');
  if (n === undefined || b === undefined || !Number.isInteger(prefix)) return false;
  if (prefix === 0) return true;
  const shift = 32 - prefix;
  return Math.floor(n / 2 ** shift) === Math.floor(b / 2 ** shift);
}

export function computeAllowed(input: AllowedInput): AllowedResult {
  if (input.machines.length === 0) return { kind: 'skip', reason: 'empty MDB' };
  if (input.users.length === 0) return { kind: 'skip', reason: 'empty UDB' };

  const groupOf = new Map(input.users.map((u) => [u.login, u.group]));
  const ipOfHost = new Map<string, string>();
  for (const m of input.machines) if (!ipOfHost.has(m.hostname)) ipOfHost.set(m.hostname, m.ip);
  const allowed = new Set(input.allowedGroups);

  const candidates = new Set<string>();
  const unknownLogins: string[] = [];
  const unknownHosts: string[] = [];
  for (const [login, hostname] of input.sessions) {
    const group = groupOf.get(login);
    if (group === undefined) {
      unknownLogins.push(login);
      continue;
    }
    if (!allowed.has(group)) continue;
    const ip = ipOfHost.get(hostname);
    if (ip === undefined) {
      unknownHosts.push(hostname);
      continue;
    }
    candidates.add(ip);
  }
  for (const m of input.machines) if (m.mtype === 'orga') candidates.add(m.ip);

  const ips: string[] = [];
  const outsideLan: string[] = [];
  for (const ip of candidates) {
    if (ipNumber(ip) === undefined || (input.lan !== undefined && !inSubnet(ip, input.lan)))
      outsideLan.push(ip);
    else ips.push(ip);
  }
  ips.sort((a, b) => ipNumber(a)! - ipNumber(b)!);
  return {
    kind: 'set',
    ips,
    unknownLogins: unknownLogins.sort(),
    unknownHosts: unknownHosts.sort(),
    outsideLan: outsideLan.sort(),
  };
}
