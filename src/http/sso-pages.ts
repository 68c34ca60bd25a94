import { setSsoHeaders, ssoIdentity } from '../presence/sso.js';
import type { Service } from '../service.js';
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
