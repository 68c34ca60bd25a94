import type { ServerResponse } from 'node:http';
import type { OperationArgs } from '../cli/operations.js';
import { findOperation } from '../cli/operations.js';
import type { GatehouseConfig } from '../config/index.js';
import { errorMessage, isGatehouseError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/index.js';
import { requireAdmin } from './admin-auth.js';
import { readBody, sendJson } from './respond.js';
import type { Handler } from './server.js';

/**
 * POST /api/v1/ops/<name> with {positionals, flags, files}: runs a CLI operation inside the
 * server. The answer streams NDJSON lines {out}|{err}|{progress}|{exit} so long imports show
 * progress as they go.
 */
export function opsRoute(deps: { store: Store; config: () => GatehouseConfig; logger: Logger }): Handler {
  return async (req, res, ctx) => {
    if (!requireAdmin(req, res, deps.config())) return;
    if (req.method !== 'POST') {
      sendJson(res, 405, { error: 'use POST', code: 'GH_BAD_REQUEST' });
      return;
    }
    const name = ctx.url.pathname.slice('/api/v1/ops/'.length);
    const op = findOperation(name);
    if (!op) {
      sendJson(res, 404, { error: `no operation named "${name}"`, code: 'GH_NOT_FOUND' });
      return;
    }
    let args: OperationArgs;
    try {
      const body = JSON.parse((await readBody(req, deps.config().http.maxBodyBytes)).toString('utf8')) as Partial<OperationArgs>;
      args = { positionals: body.positionals ?? [], flags: body.flags ?? {}, files: body.files ?? {} };
    } catch (e) {
      sendJson(res, 400, { error: `invalid request body: ${errorMessage(e)}`, code: 'GH_BAD_REQUEST' });
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
    const line = (v: unknown) => writeLine(res, v);
    try {
      const code = await op.run({ store: deps.store, config: deps.config(), logger: deps.logger }, args, {
        out: (s) => line({ out: s }),
        err: (s) => line({ err: s }),
        progress: (done, total, what) => line({ progress: { done, total, what } }),
      });
      line({ exit: code });
    } catch (e) {
      line({ err: isGatehouseError(e) ? `${e.message} [${e.code}]` : errorMessage(e) });
      line({ exit: 1 });
    }
    res.end();
  };
}

function writeLine(res: ServerResponse, v: unknown): void {
  res.write(JSON.stringify(v) + '\n');
}
