/**
 * The presencesync rules (spec §9.1–9.2; `TimeoutedPubSubQueue` of
 * `prologin/presencesync/server.py`): who is logged in where, login arbitration, heartbeats,
 * logout, expiry and the start-up embargo. Pure: the clock is injected and every operation
 * returns the messages it broadcasts instead of sending them; the server publishes them in
 * the order given. The service persists `state()` in the store and hands it back as `restored`
 * at the next start (src/presence/persist.ts); without a recent enough saved state the
 * sessions are rebuilt from heartbeats, which is what the one-TIMEOUT login embargo is for.
 *
 * Deviation kept small on purpose: expiration times are exact (fractional seconds), where the
 * original truncated `time.time()` to whole seconds, so a session lives exactly TIMEOUT
 * seconds after its last login/heartbeat instead of TIMEOUT minus the current second's
 * fraction. No client can observe the difference except through sub-second timing.
 */
import type { SyncUpdate } from '../sync/updates.js';

/** Label values of `presencesync_login_failed{reason}` (spec §9.2). */
export type LoginFailureReason =
  | 'already_logged'
  | 'busy'
  | 'machine_not_registered'
  | 'user_not_registered'
  | 'user_not_allowed'
  | 'too_early';

/** What the rules need from MDB and UDB: `MDB.query(hostname=…)` and `UDB.query(login=…)`. */
export interface PresenceDirectory {
  machines(hostname: string): readonly { mtype: string }[];
  users(login: string): readonly { group: string }[];
}

/** One sync message: a list of updates on records `{login, hostname}` (pk `login`). */
export type PresenceMessage = SyncUpdate[];

export interface LoginOutcome {
  /** null when the login is accepted, else the reason sent back with 423. */
  refusal: string | null;
  /**
   * The metric label to count, if any. Set for every refusal and — like the original — also
   * for an accepted login of a user already logged on that very host (`already_logged`).
   */
  counted: LoginFailureReason | null;
  messages: PresenceMessage[];
}

export interface LogoutOutcome {
  /** null when the logout is accepted, else the reason sent back with 500. */
  refusal: string | null;
  messages: PresenceMessage[];
}

export const TOO_EARLY = 'Too early login: try again later';
export const NOT_LOGGED_IN = 'Requested logout but not logged in';
export const WRONG_HOSTNAME = 'Requested logout from the wrong hostname';

interface Entry {
  /** Unix time (seconds) at or after which the session is gone. */
  expires: number;
  hostname: string;
  /** Position in the backlog (insertion order), kept across a restart. */
  order: number;
  /** Unix time of the last login/heartbeat (a restored session's grace does not move it). */
  refreshed: number;
}

/** One session as the rules hold it (what is persisted, and what a restart restores). */
export interface SessionState {
  login: string;
  hostname: string;
  /** Unix time (seconds) at or after which the session is gone. */
  expires: number;
  order: number;
  /** Unix time of the last login/heartbeat. */
  refreshed: number;
}

/** Everything the rules hold: sessions and which login holds each machine busy. */
export interface RulesState {
  sessions: SessionState[];
  /** hostname → login. Not derivable from `sessions`: a displaced or moved user leaves hosts busy. */
  hosts: Map<string, string>;
}

export interface PresenceRulesOptions {
  /** Seconds a session lives after its last login/heartbeat (`presencesync-sub.yml: timeout`). */
  timeout: number;
  /** Unix time in seconds (may be fractional). */
  now: () => number;
  /**
   * State saved by a previous run. Every `expires` must be at most start + TIMEOUT (the expiry
   * queue relies on it: later refreshes expire at now + TIMEOUT). Sessions already expired are
   * collected by the first operation.
   */
  restored?: RulesState;
  /**
   * Unix time from which logins are arbitrated; default start + TIMEOUT (the original's
   * embargo). A start from a recent saved state needs none.
   */
  loginsFrom?: number;
}

export function updateOf(login: string, hostname: string): SyncUpdate {
  return { type: 'update', data: { login, hostname } };
}

export function deleteOf(login: string): SyncUpdate {
  return { type: 'delete', data: { login, hostname: null } };
}

export class PresenceRules {
  /** login → (expiration, hostname), in insertion order like the original dict. */
  private readonly backlog = new Map<string, Entry>();
  /** hostname → login; a missing key means the machine is free. */
  private readonly reverse = new Map<string, string>();
  /**
   * The same entries ordered by expiration: every expiration is "now + TIMEOUT" when written,
   * so re-inserting on each refresh keeps this Map sorted and expiry only looks at its head
   * (a heartbeat costs O(1), not a scan of every session as in the original). Should the wall
   * clock step backwards, a session written after the step may be collected late, when the
   * ones written before it expire: never early.
   */
  private readonly byExpiry = new Map<string, Entry>();
  /** When logins stop being refused as "too early". */
  readonly embargoEndsAt: number;
  readonly timeout: number;
  private readonly now: () => number;
  private nextOrder = 0;

  constructor(opts: PresenceRulesOptions) {
    this.timeout = opts.timeout;
    this.now = opts.now;
    const start = opts.now();
    this.embargoEndsAt = opts.loginsFrom ?? start + this.timeout;
    if (opts.restored) this.restore(opts.restored, start);
  }

  private restore(state: RulesState, start: number): void {
    const limit = start + this.timeout;
    const sessions = [...state.sessions].sort((a, b) => a.order - b.order);
    for (const s of sessions) {
      const entry: Entry = {
        hostname: s.hostname,
        expires: Math.min(s.expires, limit),
        order: s.order,
        refreshed: s.refreshed,
      };
      this.backlog.set(s.login, entry);
      this.nextOrder = Math.max(this.nextOrder, s.order + 1);
    }
    for (const [login, entry] of [...this.backlog].sort((a, b) => a[1].expires - b[1].expires))
      this.byExpiry.set(login, entry);
    for (const [hostname, login] of state.hosts) this.reverse.set(hostname, login);
  }

  /** A copy of everything the rules hold, for persistence. */
  state(): RulesState {
    const sessions: SessionState[] = [];
    for (const [login, e] of this.backlog)
      sessions.push({
        login,
        hostname: e.hostname,
        expires: e.expires,
        order: e.order,
        refreshed: e.refreshed,
      });
    return { sessions, hosts: new Map(this.reverse) };
  }

  /**
   * `remove_expired`: drops every session whose expiration has passed and frees its *current*
   * hostname. Returns the removed logins (not yet announced).
   */
  private removeExpired(): string[] {
    const now = this.now();
    const removed: string[] = [];
    for (const [login, entry] of this.byExpiry) {
      if (entry.expires > now) break;
      removed.push(login);
    }
    for (const login of removed) {
      const entry = this.backlog.get(login)!;
      this.backlog.delete(login);
      this.byExpiry.delete(login);
      // The hostname is freed even when another user has since taken it over (the displaced
      // user's late expiry frees the machine of the newcomer); kept as in the original.
      this.reverse.delete(entry.hostname);
    }
    return removed;
  }

  /** `remove_and_publish_expired`: one message of deletes, or none when nothing expired. */
  expire(): PresenceMessage[] {
    const removed = this.removeExpired();
    return removed.length > 0 ? [removed.map(deleteOf)] : [];
  }

  /**
   * `update_backlog(login, hostname)`: register `login` on `hostname` for one more TIMEOUT.
   * The user's previous hostname, if different, is deliberately NOT freed (that machine is
   * out of sync and stays busy). A user displaced from `hostname` is announced as deleted
   * although their own entry is kept until it expires.
   */
  private updateBacklog(login: string, hostname: string): PresenceMessage[] {
    const removed = this.removeExpired();
    const old = this.reverse.get(hostname);
    const existing = this.backlog.get(login);
    const refreshed = this.now();
    const expires = refreshed + this.timeout;
    // Assigning an existing key keeps its place in the backlog order, as a Python dict does.
    const entry = existing ?? { expires, hostname, order: this.nextOrder++, refreshed };
    if (existing) Object.assign(existing, { expires, hostname, refreshed });
    else this.backlog.set(login, entry);
    this.byExpiry.delete(login);
    this.byExpiry.set(login, entry);
    this.reverse.set(hostname, login);
    const message: PresenceMessage = [];
    if (old !== login) {
      if (old !== undefined && !removed.includes(old)) removed.push(old);
    }
    for (const gone of removed) message.push(deleteOf(gone));
    if (old !== login) message.push(updateOf(login, hostname));
    return message.length > 0 ? [message] : [];
  }

  /** `/heartbeat`: trusted as-is — no embargo, no MDB/UDB or busy check. */
  heartbeat(login: string, hostname: string): PresenceMessage[] {
    return this.updateBacklog(login, hostname);
  }

  /** `is_login_allowed`, in the original's order (spec §9.2). */
  private loginAllowed(
    login: string,
    hostname: string,
    dir: PresenceDirectory,
  ): { refusal: string | null; counted: LoginFailureReason | null } {
    const current = this.backlog.get(login);
    if (current?.hostname === hostname) return { refusal: null, counted: 'already_logged' };
    if (current) return { refusal: `${login} is already logged somewhere else`, counted: 'already_logged' };
    if (this.reverse.has(hostname)) return { refusal: `${hostname} is busy`, counted: 'busy' };
    const machines = dir.machines(hostname);
    if (machines.length !== 1)
      return { refusal: `${hostname} is not a registered machine`, counted: 'machine_not_registered' };
    const users = dir.users(login);
    if (users.length !== 1)
      return { refusal: `${login} is not a registered user`, counted: 'user_not_registered' };
    // Organizers and roots may log on any registered machine, contestants only on `user` ones.
    if (users[0]!.group === 'user' && machines[0]!.mtype !== 'user') {
      return {
        refusal: `${login} is not a kind of user that is allowed to log on ${hostname}`,
        counted: 'user_not_allowed',
      };
    }
    return { refusal: null, counted: null };
  }

  /** `request_login`: expire (and announce), embargo, rules, then register on success. */
  login(login: string, hostname: string, dir: PresenceDirectory): LoginOutcome {
    const messages = this.expire();
    if (this.now() < this.embargoEndsAt) return { refusal: TOO_EARLY, counted: 'too_early', messages };
    const decision = this.loginAllowed(login, hostname, dir);
    if (decision.refusal === null) messages.push(...this.updateBacklog(login, hostname));
    return { ...decision, messages };
  }

  /**
   * `notify_logout`. Unlike every other operation the original does not expire sessions
   * first, so an expired-but-not-yet-collected session can still be logged out.
   */
  logout(login: string, hostname: string): LogoutOutcome {
    const current = this.backlog.get(login);
    if (!current) return { refusal: NOT_LOGGED_IN, messages: [] };
    if (current.hostname !== hostname) return { refusal: WRONG_HOSTNAME, messages: [] };
    this.backlog.delete(login);
    this.byExpiry.delete(login);
    this.reverse.delete(hostname);
    return { refusal: null, messages: [[deleteOf(login)]] };
  }

  /** `get_list` after expiry: login → hostname of every session, in backlog order. */
  list(): { list: Map<string, string>; messages: PresenceMessage[] } {
    const messages = this.expire();
    return { list: this.currentList(), messages };
  }

  /** login → hostname without expiring anything. */
  currentList(): Map<string, string> {
    const out = new Map<string, string>();
    for (const [login, entry] of this.backlog) out.set(login, entry.hostname);
    return out;
  }

  /** Current sessions as sync records (the snapshot a new subscriber gets, after `expire`). */
  records(): Array<{ login: string; hostname: string }> {
    return [...this.backlog].map(([login, e]) => ({ login, hostname: e.hostname }));
  }

  /** Unix time (seconds) of the last login or heartbeat of `login`, if it has a session. */
  lastSeen(login: string): number | undefined {
    const e = this.backlog.get(login);
    return e === undefined ? undefined : e.expires - this.timeout;
  }

  /** Whether `login` still has a session entry (a displaced user keeps one until expiry). */
  has(login: string): boolean {
    return this.backlog.has(login);
  }

  /** The login holding `hostname` busy, if any. */
  holderOf(hostname: string): string | undefined {
    return this.reverse.get(hostname);
  }

  /** Unix time (seconds) of the earliest expiration, or undefined without sessions. */
  nextExpiry(): number | undefined {
    for (const e of this.byExpiry.values()) return e.expires;
    return undefined;
  }

  get size(): number {
    return this.backlog.size;
  }
}
