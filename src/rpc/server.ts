import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatehouseError, errorMessage } from '../errors.js';
import { isClientAbort } from '../http/body.js';
import { isStandbyRefusal } from '../ha/errors.js';
import { readBody, sendText } from '../http/respond.js';
import type { Handler } from '../http/server.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { checkToken } from '../sync/timeauth.js';
import { decodeRpcBody, RpcReply } from './body.js';
import { RpcException } from './errors.js';
import { pyJsonDumps } from './pyjson.js';

/**
 * The `prologin.rpc` server protocol (spec §1.3, `prologin/rpc/server.py`): `/call/<name>` with
 * any HTTP method, a JSON body `{"args", "kwargs", "hmac"}` read only for POST, and answers
 * `{"type": "result", "data": …}` or `{"type": "exception", "exn_type", "exn_message",
 * "exn_traceback"}` with `Content-Type: application/json` exactly (the legacy client compares
 * the header for equality) and Python's JSON separators.
 */
export interface RpcMethod {
  /** Whether the method checks the caller's token when the server has a secret. */
  auth: boolean;
  call(args: unknown[], kwargs: Record<string, unknown>): unknown | Promise<unknown>;
}

export interface RpcHandlerOptions {
  methods: Record<string, RpcMethod>;
  /** Without a secret (MDB) no token is ever checked (spec §1.3 step 3). */
  secret?: string | (() => string | undefined);
  timeauthEnabled: () => boolean;
  logger: Logger;
  metrics: Metrics;
  maxBodyBytes: number;
  /** Label for logs and metrics (`mdb`, `udb`, …). */
  name?: string;
  /** Paths that are not `/call/<name>` (the original fell through to the Django admin). */
  fallback?: Handler;
  /** Unix time in seconds (tests). */
  now?: () => number;
}

const CALL_PATH = /^\/call\/([0-9a-zA-Z_]+)$/;
const JSON_TYPE = 'application/json';

export function rpcErrorBody(exnType: string, exnMessage: string): string {
  return (
    pyJsonDumps({ type: 'exception', exn_type: exnType, exn_message: exnMessage, exn_traceback: [] }) + '\n'
  );
}

function send(res: ServerResponse, status: number, body: string): void {
  const buf = Buffer.from(body, 'utf8');
  res.writeHead(status, { 'Content-Type': JSON_TYPE, 'Content-Length': buf.length });
  res.end(buf);
}

export function createRpcHandler(opts: RpcHandlerOptions): Handler {
  const app = opts.name ?? 'rpc';
  const timing = opts.metrics.histogram(
    'gatehouse_rpc_call_in_seconds',
    'RPC calls served (original summary rpc_call_in{method})',
    ['app', 'method', 'outcome'],
  );
  const errors = opts.metrics.counter(
    'gatehouse_rpc_errors_total',
    'RPC calls answered with an exception, by type',
    ['app', 'exn_type'],
  );
  const secretOf = (): string | undefined =>
    typeof opts.secret === 'function' ? opts.secret() : opts.secret;
  const now = opts.now ?? (() => Date.now() / 1000);

  async function decode(req: IncomingMessage): Promise<Record<string, unknown>> {
    if (req.method !== 'POST') return { args: [], kwargs: {} };
    let body: Buffer;
    try {
      body = await readBody(req, opts.maxBodyBytes);
    } catch (e) {
      if (e instanceof GatehouseError && e.code === 'GH_PAYLOAD_TOO_LARGE') {
        throw new RpcReply(413, 'HTTPRequestEntityTooLarge', e.message);
      }
      if (e instanceof GatehouseError && e.code === 'GH_BAD_REQUEST') throw new RpcReply(400, 'HTTPBadRequest', e.message);
      throw e;
    }
    return decodeRpcBody(body);
  }

  return async (req, res, ctx) => {
    const m = CALL_PATH.exec(ctx.url.pathname);
    if (!m) {
      if (opts.fallback) return opts.fallback(req, res, ctx);
      sendText(res, 404, 'Not Found\n');
      return;
    }
    const name = m[1]!;
    const started = process.hrtime.bigint();
    const method = Object.hasOwn(opts.methods, name) ? opts.methods[name] : undefined;
    let status = 200;
    let exnType: string | undefined;
    try {
      const data = await decode(req);
      if (!method) throw new RpcReply(404, 'MethodError', name);
      const secret = secretOf();
      if (method.auth && secret !== undefined) {
        const token = data.hmac;
        if (token === undefined || token === null || token === '' || token === false || token === 0) {
          throw new RpcReply(400, 'MissingToken', name);
        }
        const ok =
          typeof token === 'string' &&
          checkToken(token, secret, name, { enabled: opts.timeauthEnabled(), now: now() });
        if (!ok) throw new RpcReply(403, 'BadToken', name);
      }
      const { args, kwargs } = data;
      if (!Array.isArray(args))
        throw new RpcReply(
          500,
          'TypeError',
          `${name}() argument after * must be a list, not ${pyTypeName(args)}`,
        );
      if (kwargs === null || typeof kwargs !== 'object' || Array.isArray(kwargs)) {
        throw new RpcReply(
          500,
          'TypeError',
          `${name}() argument after ** must be a mapping, not ${pyTypeName(kwargs)}`,
        );
      }
      let result: unknown;
      try {
        result = await method.call(args, kwargs as Record<string, unknown>);
      } catch (e) {
        if (e instanceof RpcException) throw new RpcReply(500, e.exnType, e.message);
        if (e instanceof RpcReply) throw e;
        // A standby gateway's refusal: 503, the client retries on the floating address.
        if (isStandbyRefusal(e)) throw new RpcReply(503, 'RuntimeError', e.message);
        ctx.logger.error('rpc.method_failed', { app, method: name, error: e });
        throw new RpcReply(500, e instanceof GatehouseError ? 'RuntimeError' : 'Exception', errorMessage(e));
      }
      let body: string;
      try {
        body = pyJsonDumps({ type: 'result', data: result ?? null }) + '\n';
      } catch {
        throw new RpcReply(500, 'ValueError', 'The remote method returned something not JSON');
      }
      send(res, 200, body);
    } catch (e) {
      const reply = e instanceof RpcReply ? e : new RpcReply(500, 'Exception', errorMessage(e));
      // A client that hangs up mid-request is routine (a killed script, a reboot), not a fault.
      if (isClientAbort(e)) ctx.logger.info('rpc.client_aborted', { app, method: name, reason: errorMessage(e) });
      else if (!(e instanceof RpcReply)) ctx.logger.error('rpc.failed', { app, method: name, error: e });
      status = reply.status;
      exnType = reply.exnType;
      errors.inc({ app, exn_type: reply.exnType });
      if (!res.headersSent) send(res, reply.status, rpcErrorBody(reply.exnType, reply.exnMessage));
      else res.destroy();
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      timing.observe(
        { app, method: method ? name : '(unknown)', outcome: exnType ? 'exception' : 'result' },
        seconds,
      );
      ctx.logger.info('rpc.call', {
        app,
        method: method ? name : name.slice(0, 64),
        status,
        ...(exnType ? { exn_type: exnType } : {}),
        ms: Math.round(seconds * 1e4) / 10,
        peer: ctx.remoteAddress,
      });
    }
  };
}

function pyTypeName(v: unknown): string {
  if (v === null || v === undefined) return 'NoneType';
  if (Array.isArray(v)) return 'list';
  switch (typeof v) {
    case 'string':
      return 'str';
    case 'number':
      return Number.isInteger(v) ? 'int' : 'float';
    case 'boolean':
      return 'bool';
    default:
      return 'dict';
  }
}
