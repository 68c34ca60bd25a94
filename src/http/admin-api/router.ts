import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatehouseConfig } from '../../config/index.js';
import { GatehouseError, errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics.js';
import {
  type AdminDirectory,
  type AdminPrincipal,
  type AdminRole,
  authenticateAdmin,
} from '../admin-auth.js';
import type { PrefixRouter } from '../prefix-router.js';
import { readBody, sendJson } from '../respond.js';
import type { Handler, RequestContext } from '../server.js';

/**
 * The JSON admin API (/api/v1/… on the default host): a small method + path-pattern router
 * with the admin credential check, JSON bodies, and one error shape for every resource:
 * `{"error": "<what went wrong and what to do>", "code": "GH_…", "fields"?: {field: [msgs]}}`.
 *
 * Each module builds its own `AdminApi`, declares routes (`/api/v1/machines/:hostname`) and
 * mounts it on the default host's PrefixRouter; several AdminApi instances can share /api/v1
 * as long as their first path segments after /api/v1 differ.
 */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface ApiRequest {
  method: HttpMethod;
  params: Record<string, string>;
  query: URLSearchParams;
  /** The parsed JSON body (400 on malformed JSON or a non-object, 413 when too large). */
  body(): Promise<Record<string, unknown>>;
  req: IncomingMessage;
  ctx: RequestContext;
  /** Who is calling (token, UDB login or SSO); routes declared for `orga` check finer rules with it. */
  principal: AdminPrincipal;
}

/** What a route handler may return to choose the status; any other value is sent with 200. */
export class ApiResult {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {}
}
export const created = (body: unknown) => new ApiResult(201, body);

/** An API error with an explicit status. */
export class ApiError extends GatehouseError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
    details?: Record<string, unknown>,
  ) {
    super(code, message, details);
    this.name = 'ApiError';
  }
}

export type ApiHandler = (r: ApiRequest) => unknown | Promise<unknown>;

interface Route {
  method: HttpMethod;
  pattern: string;
  regex: RegExp;
  names: string[];
  handler: ApiHandler;
  access: AdminRole;
}

const STATUS_BY_CODE: Record<string, number> = {
  GH_VALIDATION: 400,
  GH_BAD_REQUEST: 400,
  GH_NOT_FOUND: 404,
  GH_STORE_NOT_FOUND: 404,
  GH_STORE_CONFLICT: 409,
  GH_PAYLOAD_TOO_LARGE: 413,
  GH_UNAUTHORIZED: 401,
  GH_FORBIDDEN: 403,
};

/** Maps an error to (status, body). Errors with a numeric `status` property keep it. */
export function errorResponse(e: unknown): { status: number; body: Record<string, unknown> } {
  if (e instanceof GatehouseError) {
    const own = (e as unknown as { status?: unknown }).status;
    const status = typeof own === 'number' ? own : (STATUS_BY_CODE[e.code] ?? 500);
    const body: Record<string, unknown> = { error: e.message, code: e.code };
    const fields = e.details?.fields;
    if (fields) body.fields = fields;
    return { status, body };
  }
  return { status: 500, body: { error: `internal error: ${errorMessage(e)}`, code: 'GH_INTERNAL' } };
}

export interface AdminApiOptions {
  config: () => GatehouseConfig;
  logger: Logger;
  metrics: Metrics;
  /** Largest JSON body accepted (default: config http.maxBodyBytes). */
  maxBodyBytes?: () => number;
  /** UDB logins and SSO for organizers and roots; without it only the admin token works. */
  directory?: AdminDirectory;
}

export class AdminApi {
  private readonly routes: Route[] = [];
  private readonly requests;

  constructor(private readonly opts: AdminApiOptions) {
    this.requests = opts.metrics.counter(
      'gatehouse_admin_api_requests_total',
      'Admin API requests by resource and status',
      ['resource', 'method', 'status'],
    );
  }

  /**
   * Declares a route; `:name` segments become `params.name` (percent-decoded). `access` is the
   * least role allowed: roots by default, `orga` for what organizers may do too.
   */
  route(method: HttpMethod, pattern: string, handler: ApiHandler, access: AdminRole = 'root'): this {
    const names: string[] = [];
    const source = pattern
      .split('/')
      .map((seg) => {
        if (seg.startsWith(':')) {
          names.push(seg.slice(1));
          return '([^/]+)';
        }
        return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      })
      .join('/');
    this.routes.push({ method, pattern, regex: new RegExp(`^${source}/?$`), names, handler, access });
    return this;
  }
  get(p: string, h: ApiHandler, access?: AdminRole): this {
    return this.route('GET', p, h, access);
  }
  post(p: string, h: ApiHandler, access?: AdminRole): this {
    return this.route('POST', p, h, access);
  }
  patch(p: string, h: ApiHandler, access?: AdminRole): this {
    return this.route('PATCH', p, h, access);
  }
  put(p: string, h: ApiHandler, access?: AdminRole): this {
    return this.route('PUT', p, h, access);
  }
  delete(p: string, h: ApiHandler, access?: AdminRole): this {
    return this.route('DELETE', p, h, access);
  }

  /** The declared routes (docs tests check them against docs/openapi.yaml). */
  describe(): Array<{ method: HttpMethod; pattern: string }> {
    return this.routes.map((r) => ({ method: r.method, pattern: r.pattern }));
  }

  /** Adds this API's resource prefixes (`/api/v1/<resource>` and below) to the default host. */
  mount(router: PrefixRouter): void {
    const prefixes = new Set(this.routes.map((r) => r.pattern.split('/').slice(0, 4).join('/')));
    for (const p of prefixes) {
      router.add(p, this.handle);
      router.add(`${p}/`, this.handle);
    }
  }

  readonly handle: Handler = async (req, res, ctx) => {
    const started = Date.now();
    let principal: AdminPrincipal | undefined;
    const path = ctx.url.pathname;
    const resource = path.split('/')[3] ?? '';
    res.on('finish', () => {
      this.requests.inc({ resource, method: req.method ?? '', status: String(res.statusCode) });
      ctx.logger.info('admin_api.request', {
        method: req.method,
        path,
        status: res.statusCode,
        ms: Date.now() - started,
        peer: ctx.remoteAddress,
        who: principal ? (principal.login ?? 'token') : undefined,
        via: principal?.via,
      });
    });
    // Authenticate before matching, so an unauthenticated caller learns nothing about paths.
    principal = authenticateAdmin(
      req,
      res,
      this.opts.config(),
      ctx.remoteAddress,
      this.opts.directory,
      'orga',
    );
    if (!principal) return;
    const matching = this.routes
      .map((r) => ({ r, m: r.regex.exec(path) }))
      .filter((x): x is { r: Route; m: RegExpExecArray } => x.m !== null);
    if (matching.length === 0) {
      sendJson(res, 404, {
        error: `no admin API resource at ${path}; see docs/api.md`,
        code: 'GH_NOT_FOUND',
      });
      return;
    }
    const hit = matching.find((x) => x.r.method === req.method);
    if (!hit) {
      const allowed = [...new Set(matching.map((x) => x.r.method))].join(', ');
      res.setHeader('Allow', allowed);
      sendJson(res, 405, {
        error: `${req.method} is not supported on ${path}; use ${allowed}`,
        code: 'GH_BAD_REQUEST',
      });
      return;
    }
    if (hit.r.access === 'root' && principal.role !== 'root') {
      sendJson(res, 403, {
        error: `${principal.login} is an organizer: ${hit.r.method} ${hit.r.pattern} needs a root`,
        code: 'GH_FORBIDDEN',
      });
      return;
    }
    const params: Record<string, string> = {};
    try {
      hit.r.names.forEach((n, i) => {
        params[n] = decodeURIComponent(hit.m[i + 1]!);
      });
    } catch {
      sendJson(res, 400, { error: 'malformed percent-encoding in the path', code: 'GH_BAD_REQUEST' });
      return;
    }
    const limit = this.opts.maxBodyBytes?.() ?? this.opts.config().http.maxBodyBytes;
    const apiReq: ApiRequest = {
      method: hit.r.method,
      params,
      query: ctx.url.searchParams,
      body: () => readJsonObject(req, limit),
      req,
      ctx,
      principal,
    };
    try {
      const out = await hit.r.handler(apiReq);
      if (out instanceof ApiResult) sendJson(res, out.status, out.body);
      else sendJson(res, 200, out ?? null);
    } catch (e) {
      const { status, body } = errorResponse(e);
      if (status >= 500) ctx.logger.error('admin_api.failed', { path, error: e });
      if (!res.headersSent) sendJson(res, status, body);
      else res.destroy();
    }
  };
}

async function readJsonObject(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const raw = await readBody(req, limit);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
  } catch (e) {
    throw new ApiError(
      400,
      'GH_BAD_REQUEST',
      `the request body is not valid UTF-8 JSON (${errorMessage(e)})`,
    );
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ApiError(400, 'GH_BAD_REQUEST', 'the request body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

/** Refuses keys not in `allowed` with a 400 naming them. */
export function onlyFields(
  body: Record<string, unknown>,
  allowed: readonly string[],
): Record<string, unknown> {
  const unknown = Object.keys(body).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    throw new ApiError(
      400,
      'GH_VALIDATION',
      `unknown field(s) ${unknown.map((k) => `"${k}"`).join(', ')}; allowed: ${allowed.join(', ')}`,
      {
        fields: Object.fromEntries(unknown.map((k) => [k, ['Unknown field.']])),
      },
    );
  }
  return body;
}

/**
 * Query-string parameters as an object (filters of list endpoints). `…__in` values are split
 * on commas (`?mtype__in=user,orga`), since a query string has no lists.
 */
export function queryObject(
  q: URLSearchParams,
  skip: readonly string[] = [],
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of q) if (!skip.includes(k)) out[k] = k.endsWith('__in') ? v.split(',') : v;
  return out;
}

export type { ServerResponse };
