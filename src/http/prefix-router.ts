import type { Handler } from './server.js';
import { sendText } from './respond.js';

/** Routes by path prefix, longest prefix first; used for the default host. */
export class PrefixRouter {
  private readonly routes: Array<{ prefix: string; handler: Handler }> = [];

  add(prefix: string, handler: Handler): void {
    this.routes.push({ prefix, handler });
    this.routes.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  readonly handle: Handler = (req, res, ctx) => {
    const path = ctx.url.pathname;
    const route = this.routes.find((r) => (r.prefix.endsWith('/') ? path.startsWith(r.prefix) : path === r.prefix));
    if (!route) {
      sendText(res, 404, 'Not Found\n');
      return;
    }
    return route.handler(req, res, ctx);
  };
}
