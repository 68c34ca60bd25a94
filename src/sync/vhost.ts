import { errorMessage } from '../errors.js';
import { sendText } from '../http/respond.js';
import type { Handler } from '../http/server.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { SyncHub } from './hub.js';
import {
  type TornadoArgs,
  checkSigned,
  isTooLarge,
  readTornadoArgs,
  sendSignedFailure,
  sendTornadoError,
} from './tornado.js';
import { parseUpdateList } from './updates.js';

export interface SyncVhostOptions {
  hub: SyncHub;
  /** Secret of `/update` publishers (`<feed>-pub.yml: shared_secret`). */
  pubSecret: () => string;
  /** Secret of `/poll` subscribers (`<feed>-sub.yml: shared_secret`). */
  subSecret: () => string;
  timeauthEnabled: () => boolean;
  /** Serve `POST /update` (mdbsync, udbsync); presencesync answers it 404. */
  allowUpdate: boolean;
  maxBodyBytes: number;
  logger: Logger;
  metrics: Metrics;
  /** Further exact paths on the same host (presencesync: /login, /heartbeat, …). */
  routes?: Record<string, Handler>;
  /** Unix time in seconds (tests). */
  now?: () => number;
}

/**
 * One sync virtual host (`mdbsync`, `udbsync`, `presencesync`): `GET /poll`, `POST /update`,
 * `GET /__ping`, `GET /__threads` with the original's status codes and bodies (spec §1.4).
 */
export function createSyncVhost(opts: SyncVhostOptions): Handler {
  const { hub } = opts;
  const rejected = opts.metrics.counter(
    'gatehouse_sync_requests_rejected_total',
    'Sync requests refused, by reason',
    ['feed', 'reason'],
  );
  const refuse = (reason: string) => rejected.inc({ feed: hub.name, reason });
  const nowSeconds = () => (opts.now ? opts.now() : Date.now() / 1000);

  const poll: Handler = async (req, res, ctx) => {
    if (req.method !== 'GET') {
      refuse('method');
      sendTornadoError(res, 405);
      return;
    }
    const args = await readTornadoArgs(req, ctx.url, opts.maxBodyBytes);
    const signed = checkSigned(args, opts.subSecret(), {
      checkMsg: false,
      timeauthEnabled: opts.timeauthEnabled(),
      now: nowSeconds(),
    });
    if (!signed.ok) {
      refuse(signed.status === 403 ? 'bad_token' : 'missing_argument');
      ctx.logger.info('sync.poll_refused', {
        feed: hub.name,
        status: signed.status,
        reason: signed.reason,
        peer: ctx.remoteAddress,
      });
      sendSignedFailure(res, signed);
      return;
    }
    const sinceText = args.get('since');
    const since = sinceText !== null && /^\d{1,15}$/.test(sinceText) ? Number(sinceText) : undefined;
    const seqMode = args.get('seq') === '1';
    hub.attach(res, { ...(since !== undefined ? { since } : {}), seqMode });
    ctx.logger.info('sync.subscribed', {
      feed: hub.name,
      peer: ctx.remoteAddress,
      subscribers: hub.subscriberCount,
      ...(since !== undefined ? { since } : {}),
    });
    res.on('close', () =>
      ctx.logger.info('sync.unsubscribed', {
        feed: hub.name,
        peer: ctx.remoteAddress,
        subscribers: hub.subscriberCount,
      }),
    );
  };

  const update: Handler = async (req, res, ctx) => {
    if (req.method !== 'POST') {
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
    const signed = checkSigned(args, opts.pubSecret(), {
      checkMsg: true,
      timeauthEnabled: opts.timeauthEnabled(),
      now: nowSeconds(),
    });
    if (!signed.ok) {
      refuse(signed.status === 403 ? 'bad_token' : 'missing_argument');
      ctx.logger.warn('sync.update_refused', {
        feed: hub.name,
        status: signed.status,
        reason: signed.reason,
        peer: ctx.remoteAddress,
      });
      sendSignedFailure(res, signed);
      return;
    }
    let decoded: unknown;
    try {
      decoded = JSON.parse(signed.data);
    } catch (e) {
      refuse('bad_json');
      ctx.logger.warn('sync.update_bad_json', {
        feed: hub.name,
        error: errorMessage(e),
        peer: ctx.remoteAddress,
      });
      sendTornadoError(res, 500);
      return;
    }
    const updates = parseUpdateList(decoded, hub.pk);
    if (typeof updates === 'string') {
      // The original crashed inside apply_updates (500); nothing is applied here.
      refuse('bad_shape');
      ctx.logger.warn('sync.update_bad_shape', { feed: hub.name, error: updates, peer: ctx.remoteAddress });
      sendTornadoError(res, 500);
      return;
    }
    hub.publish(updates);
    ctx.logger.info('sync.update_published', {
      feed: hub.name,
      updates: updates.length,
      peer: ctx.remoteAddress,
    });
    res.writeHead(200, { 'Content-Type': 'text/html; charset=UTF-8', 'Content-Length': 0 });
    res.end();
  };

  const routes: Record<string, Handler> = {
    '/poll': poll,
    ...(opts.allowUpdate ? { '/update': update } : {}),
    '/__ping': (req, res) =>
      req.method === 'GET' ? sendText(res, 200, 'pong', 'text/plain') : sendTornadoError(res, 405),
    '/__threads': (req, res) =>
      req.method === 'GET'
        ? sendText(
            res,
            200,
            `1 threads found\n\nThread 0x1 (Node.js event loop, feed ${hub.name}):\n  ${hub.subscriberCount} subscribers\n`,
            'text/plain',
          )
        : sendTornadoError(res, 405),
    ...opts.routes,
  };

  return async (req, res, ctx) => {
    const route = Object.hasOwn(routes, ctx.url.pathname) ? routes[ctx.url.pathname] : undefined;
    if (!route) {
      sendTornadoError(res, 404);
      return;
    }
    try {
      await route(req, res, ctx);
    } catch (e) {
      if (isTooLarge(e) && !res.headersSent) {
        refuse('too_large');
        sendTornadoError(res, 413);
        return;
      }
      throw e;
    }
  };
}
