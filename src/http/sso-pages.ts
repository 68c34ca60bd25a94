import type { Metrics } from '../metrics.js';
import { setSsoHeaders, ssoIdentity } from '../presence/sso.js';
import type { Service } from '../service.js';
import { sendText } from './respond.js';
import type { Handler } from './server.js';

/**
 * Wraps the pages of the `mdb` and `udb` hosts so every answer carries the three `X-SSO-*`
 * headers computed from Gatehouse's own lookup of the TCP peer (spec §10.5): identity never comes
 * from client-sent headers. `services` is the live list, so SSO started after MDB/UDB is seen.
 */
export function withSsoHeaders(services: readonly Service[], handler: Handler): Handler {
  return (req, res, ctx) => {
    setSsoHeaders(res, ssoIdentity(services, ctx.remoteAddress));
    return handler(req, res, ctx);
  };
}

/**
 * The non-RPC paths of a database host (`mdb`, `udb`), where the original served its Django
 * admin and `/metrics`: Prometheus text, a short index pointing at the RPC and admin API, 404
 * otherwise; all with the SSO headers.
 */
export function databaseHostPages(services: readonly Service[], metrics: Metrics, index: string): Handler {
  return withSsoHeaders(services, async (_req, res, ctx) => {
    if (ctx.url.pathname === '/metrics') {
      sendText(res, 200, await metrics.text(), metrics.contentType);
      return;
    }
    if (ctx.url.pathname === '/') {
      sendText(res, 200, `${index}\n`);
      return;
    }
    sendText(res, 404, 'Not Found\n');
  });
}
