import { randomBytes } from 'node:crypto';
import type { Store, Table } from '../store/index.js';

/**
 * Admin web sessions, kept in the store (not in memory) so signing in survives a restart of
 * Gatehouse, and a sign-out really ends the session on the server. The cookie holds only a
 * random id. Not logged: no feed follows them.
 */
export interface WebSession {
  login: string;
  via: 'password' | 'sso';
  /** SSO sessions are bound to the machine they were opened from. */
  peer: string;
  /** Synchronizer token of every form of this session. */
  csrf: string;
  created: number;
  expires: number;
}

/** A one-use ticket that carries a signed-in user to another admin host (mdb, udb, dashboard). */
interface Handoff {
  login: string;
  via: WebSession['via'];
  peer: string;
  expires: number;
}

export const SESSION_COOKIE = 'gh_admin';
export const SESSION_TTL_MS = 12 * 3600_000;
const HANDOFF_TTL_MS = 60_000;

const token = () => randomBytes(24).toString('base64url');

export class WebSessions {
  private readonly sessions: Table<WebSession>;
  private readonly handoffs: Table<Handoff>;

  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {
    this.sessions = store.table<WebSession>('web_sessions', { logged: false });
    this.handoffs = store.table<Handoff>('web_handoffs', { logged: false });
  }

  async open(
    login: string,
    via: WebSession['via'],
    peer: string,
  ): Promise<{ id: string; session: WebSession }> {
    const t = this.now();
    if (via === 'sso') {
      // A client that keeps no cookie (a script, a kiosk) reuses the session of its machine
      // instead of adding a row per request.
      const same = this.store.read((tx) =>
        tx
          .entries(this.sessions)
          .find(({ value: s }) => s.via === 'sso' && s.peer === peer && s.login === login && s.expires > t),
      );
      if (same) return { id: String(same.key), session: same.value };
    }
    const id = token();
    const session: WebSession = { login, via, peer, csrf: token(), created: t, expires: t + SESSION_TTL_MS };
    await this.store.write((tx) => {
      tx.put(this.sessions, id, session);
      // Sweep expired rows while writing anyway: the table stays as small as the live sessions.
      for (const { key, value } of tx.entries(this.sessions))
        if (value.expires <= t) tx.delete(this.sessions, key);
      for (const { key, value } of tx.entries(this.handoffs))
        if (value.expires <= t) tx.delete(this.handoffs, key);
    });
    return { id, session };
  }

  get(id: string): WebSession | undefined {
    if (!/^[A-Za-z0-9_-]{32}$/.test(id)) return undefined;
    const s = this.store.read((tx) => tx.get(this.sessions, id));
    return s && s.expires > this.now() ? s : undefined;
  }

  async close(id: string): Promise<void> {
    await this.store.write((tx) => tx.delete(this.sessions, id));
  }

  async issueHandoff(session: WebSession): Promise<string> {
    const id = token();
    const h: Handoff = {
      login: session.login,
      via: session.via,
      peer: session.peer,
      expires: this.now() + HANDOFF_TTL_MS,
    };
    await this.store.write((tx) => tx.put(this.handoffs, id, h));
    return id;
  }

  /** Consumes a ticket (once); undefined when unknown, used or expired. */
  async takeHandoff(id: string): Promise<Handoff | undefined> {
    if (!/^[A-Za-z0-9_-]{32}$/.test(id)) return undefined;
    return this.store.write((tx) => {
      const h = tx.get(this.handoffs, id);
      if (!h) return undefined;
      tx.delete(this.handoffs, id);
      return h.expires > this.now() ? h : undefined;
    });
  }
}

/** Reads one cookie from a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function sessionCookie(id: string): string {
  return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${SESSION_TTL_MS / 1000}`;
}

export function clearedSessionCookie(): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`;
}
