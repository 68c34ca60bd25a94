import { request } from 'undici';
import { pyJsonDumps } from '../rpc/pyjson.js';
import { generateToken } from '../sync/timeauth.js';

/** What a presencesync endpoint answered. */
export interface PresenceReply {
  status: number;
  body: string;
}

export interface PresenceClientOptions {
  /** Base URL of presencesync (`presencesync-sub.yml: url`), e.g. `http://presencesync/`. */
  url: string;
  /** The publisher secret (`presencesync-pub.yml: shared_secret`). */
  pubSecret: string;
  /**
   * Host header to send instead of the URL's (reaching Gatehouse by address while still
   * selecting its `presencesync` virtual host).
   */
  hostHeader?: string;
  timeoutMs?: number;
}

/**
 * The publishing half of the original `prologin.presencesync.client`: form POSTs of
 * `data=json.dumps(msg)` and `hmac=<token over data>` (spec §1.4, §9.3). Python's JSON form
 * is kept so the signed bytes are what the original clients sent.
 */
export class PresenceClient {
  constructor(private readonly opts: PresenceClientOptions) {}

  async post(path: string, msg: unknown): Promise<PresenceReply> {
    const data = pyJsonDumps(msg);
    const body = new URLSearchParams({ data, hmac: generateToken(this.opts.pubSecret, data) }).toString();
    const url = new URL(
      path.replace(/^\//, ''),
      this.opts.url.endsWith('/') ? this.opts.url : `${this.opts.url}/`,
    );
    const timeout = this.opts.timeoutMs ?? 10_000;
    const res = await request(url, {
      method: 'POST',
      body,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(this.opts.hostHeader ? { host: this.opts.hostHeader } : {}),
      },
      headersTimeout: timeout,
      bodyTimeout: timeout,
    });
    return { status: res.statusCode, body: await res.body.text() };
  }

  heartbeat(login: string, hostname: string): Promise<PresenceReply> {
    return this.post('/heartbeat', { login, hostname });
  }

  /** `request_login`: null when accepted, else the reason (`No reason given` for an empty body). */
  async requestLogin(login: string, hostname: string): Promise<string | null> {
    const r = await this.post('/login', { login, hostname });
    return r.status === 200 ? null : r.body || 'No reason given';
  }

  /** `notify_logout`: null when accepted, else the reason. */
  async notifyLogout(login: string, hostname: string): Promise<string | null> {
    const r = await this.post('/logout', { login, hostname });
    return r.status === 200 ? null : r.body || 'No reason given';
  }
}
