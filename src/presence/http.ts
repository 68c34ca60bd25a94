import type { ServerResponse } from 'node:http';
import { sendText } from '../http/respond.js';
import type { Handler, RequestContext } from '../http/server.js';
import type { Metrics } from '../metrics.js';
import { pyJsonDumps } from '../rpc/pyjson.js';
import {
  checkSigned,
  isTooLarge,
  readTornadoArgs,
  sendSignedFailure,
  sendTornadoError,
  type TornadoArgs,
} from '../sync/tornado.js';
import type { LoginOutcome, LogoutOutcome } from './rules.js';

/** The operations behind the presencesync endpoints (PresenceService). */
export interface PresenceOperations {
  login(login: string, hostname: string): LoginOutcome;
  logout(login: string, hostname: string): LogoutOutcome;
  heartbeat(login: string, hostname: string): void;
  removeExpired(cause: string): void;
  getList(): Map<string, string>;
  /** Resolves once the latest change of who is where is persisted. */
  saved(): Promise<void>;
}

export interface PresenceRouteOptions {
  pubSecret: () => string;
  subSecret: () => string;
  timeauthEnabled: () => boolean;
  maxBodyBytes: number;
  metrics: Metrics;
  now: () => number;
}

// Tornado's default for handlers that write text (the original set no content type).
const TORNADO_TYPE = 'text/html; charset=UTF-8';

function ok(res: ServerResponse, body = ''): void {
  sendText(res, 200, body, TORNADO_TYPE, 'OK');
}

/** `{"login": L, "hostname": H}` with two strings, or why not. */
export function parseSessionData(data: string): { login: string; hostname: string } | string {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return 'data is not JSON';
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'data is not a JSON object';
  const { login, hostname } = value as Record<string, unknown>;
  if (typeof login !== 'string' || typeof hostname !== 'string')
    return 'data needs string "login" and "hostname"';
  return { login, hostname };
}

/**
 * `/login`, `/logout`, `/heartbeat`, `/remove_expired` (POST, pub secret) and `/get_list` (GET,
 * sub secret) of spec §9.3; `/poll` and `/__ping` come from the generic sync virtual host.
 * Every request is signed over the exact `data` argument after Tornado's cleaning.
 */
export function presenceRoutes(ops: PresenceOperations, opts: PresenceRouteOptions): Record<string, Handler> {
  const rejected = opts.metrics.counter(
    'gatehouse_sync_requests_rejected_total',
    'Sync requests refused, by reason',
    ['feed', 'reason'],
  );
  const refuse = (reason: string) => rejected.inc({ feed: 'presencesync', reason });

  /** Method check, argument parsing and signature check shared by every endpoint. */
  const signed = (
    method: 'GET' | 'POST',
    secret: () => string,
    then: (data: string, res: ServerResponse, ctx: RequestContext) => void | Promise<void>,
  ): Handler => {
    return async (req, res, ctx) => {
      if (req.method !== method) {
        refuse('method');
        sendTornadoError(res, 405);
        return;
      }
      let args: TornadoArgs;
      try {
        args = await readTornadoArgs(req, ctx.url, opts.maxBodyBytes);
      } catch (e) {
        if (!isTooLarge(e)) throw e;
        refuse('too_large');
        sendTornadoError(res, 413);
        return;
      }
      const check = checkSigned(args, secret(), {
        checkMsg: true,
        timeauthEnabled: opts.timeauthEnabled(),
        now: opts.now(),
      });
      if (!check.ok) {
        refuse(check.status === 403 ? 'bad_token' : 'missing_argument');
        ctx.logger.info('presence.request_refused', {
          path: ctx.url.pathname,
          status: check.status,
          reason: check.reason,
          peer: ctx.remoteAddress,
        });
        sendSignedFailure(res, check);
        return;
      }
      await then(check.data, res, ctx);
    };
  };

  /** Endpoints whose data is `{"login", "hostname"}`; the original answered 500 otherwise. */
  const session = (
    fn: (login: string, hostname: string, res: ServerResponse, ctx: RequestContext) => void | Promise<void>,
  ) => {
    return (data: string, res: ServerResponse, ctx: RequestContext) => {
      const parsed = parseSessionData(data);
      if (typeof parsed === 'string') {
        refuse('bad_data');
        ctx.logger.info('presence.bad_data', {
          path: ctx.url.pathname,
          reason: parsed,
          peer: ctx.remoteAddress,
        });
        sendTornadoError(res, 500);
        return;
      }
      return fn(parsed.login, parsed.hostname, res, ctx);
    };
  };

  /**
   * /login and /logout: the rules decide, the refusal text is the body, and the status and
   * reason phrase are the original's (423 `Login refused`, 500 `Logout failed`, spec §9.3).
   */
  const arbitrated = (
    event: string,
    decide: (login: string, hostname: string) => { refusal: string | null },
    refusedStatus: number,
    refusedReason: string,
  ) =>
    signed(
      'POST',
      opts.pubSecret,
      session(async (login, hostname, res, ctx) => {
        const outcome = decide(login, hostname);
        // An accepted change is answered once it would survive a restart.
        await ops.saved();
        ctx.logger.info(event, {
          login,
          hostname,
          accepted: outcome.refusal === null,
          ...(outcome.refusal !== null ? { reason: outcome.refusal } : {}),
          peer: ctx.remoteAddress,
        });
        if (outcome.refusal === null) ok(res);
        else sendText(res, refusedStatus, outcome.refusal, TORNADO_TYPE, refusedReason);
      }),
    );

  return {
    '/login': arbitrated('presence.login', (l, h) => ops.login(l, h), 423, 'Login refused'),
    '/logout': arbitrated('presence.logout', (l, h) => ops.logout(l, h), 500, 'Logout failed'),
    '/heartbeat': signed(
      'POST',
      opts.pubSecret,
      session(async (login, hostname, res, ctx) => {
        ops.heartbeat(login, hostname);
        await ops.saved();
        ctx.logger.debug('presence.heartbeat', { login, hostname, peer: ctx.remoteAddress });
        ok(res);
      }),
    ),
    '/remove_expired': signed('POST', opts.pubSecret, (_data, res) => {
      ops.removeExpired('request');
      ok(res);
    }),
    '/get_list': signed('GET', opts.subSecret, (_data, res) => {
      ok(res, pyJsonDumps(Object.fromEntries(ops.getList())));
    }),
  };
}
