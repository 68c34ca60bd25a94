/**
 * Presence sessions in the store, so a restart neither cuts allowed machines off (the firewall
 * rebuilds its set from presence at start) nor refuses logins for one TIMEOUT.
 *
 * Three unlogged tables, written only through `Store.write` (a store replica gets them like
 * the DHCP leases):
 *   presence_sessions  login → {hostname, lastSeen, order, feed}
 *   presence_hosts     hostname → login holding it busy (not derivable from the sessions)
 *   presence_meta      'saved' → {at}: until when the saved state is known to be complete
 * Unlogged because 1000 machines heart-beating every 15 s would otherwise push ~4 change-log
 * entries per second into the log mdbsync/udbsync subscribers resume from (`?since=`) and wake
 * every store subscriber; presence has its own feed (presencesync).
 *
 * Cost: a change of who is where (login, logout, a new or displaced session, expiry) is written
 * at once and the HTTP answer waits for the commit; a heartbeat that only refreshes a session is
 * written with the next batch, at most every `flushIntervalMs` — one LMDB transaction holding
 * the changed rows, however many machines beat meanwhile.
 */
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { Store, Table, WriteTx } from '../store/index.js';
import type { RulesState, SessionState } from './rules.js';

export const PRESENCE_SESSIONS_TABLE = 'presence_sessions';
export const PRESENCE_HOSTS_TABLE = 'presence_hosts';
export const PRESENCE_META_TABLE = 'presence_meta';

/** The feed view of one login (what a long-lived presencesync subscriber holds). */
export interface FeedEntry {
  hostname: string;
  /** Position in the feed (re-insertion order: the latest claim of a machine wins). */
  order: number;
}

export interface SessionRow {
  hostname: string;
  /** Unix time (seconds) of the last login/heartbeat: the session expires TIMEOUT after it. */
  lastSeen: number;
  order: number;
  /** null when the feed announced this login as deleted (displaced) although the rules keep it. */
  feed: FeedEntry | null;
}

interface MetaRow {
  /** Unix time (seconds) up to which every change is in the saved state. */
  at: number;
}

export const sessionsTable: Table<SessionRow> = { name: PRESENCE_SESSIONS_TABLE, logged: false };
export const hostsTable: Table<string> = { name: PRESENCE_HOSTS_TABLE, logged: false };
const metaTable: Table<MetaRow> = { name: PRESENCE_META_TABLE, logged: false };
const SAVED = 'saved';

/** What presence holds in memory: the rules' state plus the feed view (login → entry). */
export interface PresenceState {
  rules: RulesState;
  feed: ReadonlyMap<string, FeedEntry>;
}

/** A saved state brought back to life at start. */
export interface Restored {
  rules: RulesState;
  feed: Map<string, FeedEntry>;
  /**
   * Whether the saved state is recent enough (saved less than one TIMEOUT before this start)
   * to arbitrate logins at once; otherwise the original embargo applies.
   */
  fresh: boolean;
  savedAt: number | undefined;
}

/**
 * Turns saved rows into the state to start from. A session lives TIMEOUT after its saved last
 * heartbeat plus one heartbeat interval (TIMEOUT/2) of grace — the saved time may lag the last
 * heartbeat by one batch, and heartbeats sent while Gatehouse was down failed — but never
 * beyond start + TIMEOUT (then its machine has had two heartbeat intervals to beat again).
 */
export function planRestore(
  rows: { sessions: Iterable<[string, SessionRow]>; hosts: Iterable<[string, string]>; savedAt?: number },
  opts: { now: number; timeout: number },
): Restored {
  const grace = opts.timeout / 2;
  const sessions: SessionState[] = [];
  const feed = new Map<string, FeedEntry>();
  for (const [login, row] of rows.sessions) {
    sessions.push({
      login,
      hostname: row.hostname,
      expires: Math.min(row.lastSeen + opts.timeout + grace, opts.now + opts.timeout),
      order: row.order,
      refreshed: row.lastSeen,
    });
    if (row.feed) feed.set(login, row.feed);
  }
  const orderedFeed = new Map([...feed].sort((a, b) => a[1].order - b[1].order));
  const age = rows.savedAt === undefined ? Number.POSITIVE_INFINITY : opts.now - rows.savedAt;
  return {
    rules: { sessions, hosts: new Map(rows.hosts) },
    feed: orderedFeed,
    fresh: age >= 0 && age < opts.timeout,
    savedAt: rows.savedAt,
  };
}

function sameRow(a: SessionRow | undefined, b: SessionRow): boolean {
  return (
    a !== undefined &&
    a.hostname === b.hostname &&
    a.lastSeen === b.lastSeen &&
    a.order === b.order &&
    a.feed?.hostname === b.feed?.hostname &&
    a.feed?.order === b.feed?.order
  );
}

/** The rows `state` should be stored as. */
export function rowsOf(state: PresenceState): Map<string, SessionRow> {
  const rows = new Map<string, SessionRow>();
  for (const s of state.rules.sessions) {
    rows.set(s.login, {
      hostname: s.hostname,
      lastSeen: s.refreshed,
      order: s.order,
      feed: state.feed.get(s.login) ?? null,
    });
  }
  return rows;
}

/** Writes only what differs from the stored rows; returns how many rows it wrote or deleted. */
export function writeState(tx: WriteTx, state: PresenceState, savedAt: number): number {
  let written = 0;
  const want = rowsOf(state);
  for (const { key, value } of tx.entries(sessionsTable)) {
    const row = want.get(String(key));
    if (row === undefined) {
      tx.delete(sessionsTable, key);
      written++;
    } else if (sameRow(value, row)) want.delete(String(key));
  }
  for (const [login, row] of want) {
    tx.put(sessionsTable, login, row);
    written++;
  }
  const hosts = new Map(state.rules.hosts);
  for (const { key, value } of tx.entries(hostsTable)) {
    if (hosts.get(String(key)) === value) hosts.delete(String(key));
    else if (!hosts.has(String(key))) {
      tx.delete(hostsTable, key);
      written++;
    }
  }
  for (const [hostname, login] of hosts) {
    tx.put(hostsTable, hostname, login);
    written++;
  }
  tx.put(metaTable, SAVED, { at: savedAt });
  return written;
}

/** Reads the saved state (empty when none was ever saved). */
export function loadState(store: Store, opts: { now: number; timeout: number }): Restored {
  return store.read((tx) =>
    planRestore(
      {
        sessions: tx.entries(sessionsTable).map((e) => [String(e.key), e.value] as [string, SessionRow]),
        hosts: tx.entries(hostsTable).map((e) => [String(e.key), e.value] as [string, string]),
        savedAt: tx.get(metaTable, SAVED)?.at,
      },
      opts,
    ),
  );
}

export interface PresencePersistenceOptions {
  store: Store;
  logger: Logger;
  /** The state to save, read at write time (so one write covers every change before it). */
  state: () => PresenceState;
  now: () => number;
  /** Longest a heartbeat refresh waits before it is written. */
  flushIntervalMs: number;
  /** False while nothing may be written (an HA standby); default always. */
  writable?: () => boolean;
}

/**
 * Schedules the writes: `saveNow()` for changes of who is where (coalesced: one write in flight
 * and at most one queued behind it, which then covers every change made meanwhile), and a timer
 * for the batched refreshes that also renews the "saved at" mark while nothing happens.
 */
export class PresencePersistence {
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly opts: PresencePersistenceOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.saveNow(), this.opts.flushIntervalMs);
    this.timer.unref();
  }

  /** Writes the current state; resolves once it is committed (never rejects: errors are logged). */
  saveNow(): Promise<void> {
    if (this.queued) return this.queued;
    const after = this.running ?? Promise.resolve();
    const p: Promise<void> = after.then(async () => {
      this.queued = undefined;
      this.running = p;
      try {
        await this.write();
      } finally {
        if (this.running === p) this.running = undefined;
      }
    });
    this.queued = p;
    return p;
  }

  private async write(): Promise<void> {
    if (this.stopped || this.opts.writable?.() === false) return;
    try {
      await this.opts.store.write((tx) => writeState(tx, this.opts.state(), this.opts.now()));
    } catch (e) {
      // The next write compares with what the store holds, so nothing is lost but time.
      this.opts.logger.error('presence.save_failed', {
        error: errorMessage(e),
        hint: 'sessions are kept in memory; a restart before the next successful save may cut machines off',
      });
    }
  }

  /** Final save, then no more writes (the store closes after the services stop). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.saveNow();
    this.stopped = true;
  }
}
