import type { IncomingMessage, ServerResponse } from 'node:http';
import { type AdminDirectory, type AdminRole, roleOf, sameSecret } from '../http/admin-auth.js';
import { parseForm, readBody, sendText } from '../http/respond.js';
import type { Handler, RequestContext } from '../http/server.js';
import type { Assets } from './assets.js';
import { type HtmlValue, html, type SafeHtml } from './html.js';
import { layout, type SiteName, type Viewer } from './layout.js';
import { acceptsGzip, redirect, sendPage, setSecurityHeaders } from './respond.js';
import {
  clearedSessionCookie,
  cookieValue,
  SESSION_COOKIE,
  sessionCookie,
  type WebSession,
  type WebSessions,
} from './sessions.js';

export interface WebDeps {
  assets: Assets;
  sessions: WebSessions;
  directory: AdminDirectory;
  maxBodyBytes: () => number;
}

export interface PageOptions {
  status?: number;
  live?: boolean;
  refresh?: number;
}

/** What a page handler gets: the request, the signed-in viewer, and ways to answer. */
export interface PageRequest {
  req: IncomingMessage;
  res: ServerResponse;
  ctx: RequestContext;
  params: Record<string, string>;
  query: URLSearchParams;
  /** The urlencoded body of a POST (empty for GET). */
  form: URLSearchParams;
  /** Raw body of a POST (the batch import upload reads the file from it). */
  body: Buffer;
  viewer: Viewer;
  page(title: string, body: HtmlValue, opts?: PageOptions): void;
  redirect(location: string): void;
}

export type PageHandler = (r: PageRequest) => void | Promise<void>;

interface Route {
  method: 'GET' | 'POST';
  regex: RegExp;
  names: string[];
  handler: PageHandler;
  need: AdminRole;
}

const AUTH = '/_auth/';

/** Keeps a redirect target on this host: a path, never `//other` or a scheme. */
export function safeNext(next: string | null | undefined): string {
  return next && /^\/(?![/\\])/.test(next) ? next : '/';
}

/** Host of the browser's view of `site`, derived from the Host header of this request. */
export function hostOf(site: SiteName, req: IncomingMessage, current: string): string {
  const host = req.headers.host ?? '';
  const port = /:(\d+)$/.exec(host)?.[1];
  const suffix = port ? `:${port}` : '';
  if (site === 'dashboard') {
    // The default host has no name of its own: the address this request arrived on reaches it.
    const local = (req.socket.localAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
    return `${local.includes(':') ? `[${local}]` : local}${suffix}`;
  }
  const bare = host.replace(/:\d+$/, '');
  if (current !== 'default' && bare.startsWith(`${current}`))
    return `${site}${bare.slice(current.length)}${suffix}`;
  return `${site}${suffix}`;
}

/**
 * One admin site (the MDB pages on `mdb`, the UDB pages on `udb`, the dashboard on the default
 * host): sign-in (SSO from the caller's machine, else the UDB password), sessions, roles,
 * CSRF checks on every POST, and a small method + path router for the pages.
 */
export class WebSite {
  private readonly routes: Route[] = [];

  constructor(
    private readonly deps: WebDeps,
    readonly site: SiteName,
    readonly title: string,
    /** Least role that may see any page of this site. */
    private readonly need: AdminRole,
    private readonly sections: ReadonlyArray<readonly [string, string]> = [],
  ) {}

  get(pattern: string, handler: PageHandler, need?: AdminRole): this {
    return this.route('GET', pattern, handler, need);
  }
  post(pattern: string, handler: PageHandler, need?: AdminRole): this {
    return this.route('POST', pattern, handler, need);
  }

  private route(method: Route['method'], pattern: string, handler: PageHandler, need?: AdminRole): this {
    const names: string[] = [];
    const source = pattern
      .split('/')
      .map((seg) => {
        if (!seg.startsWith(':')) return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        names.push(seg.slice(1));
        return '([^/]+)';
      })
      .join('/');
    this.routes.push({ method, regex: new RegExp(`^${source}$`), names, handler, need: need ?? this.need });
    return this;
  }

  private render(
    res: ServerResponse,
    req: IncomingMessage,
    status: number,
    title: string,
    body: HtmlValue,
    viewer?: Viewer,
    opts: PageOptions = {},
    headers?: Record<string, string | string[]>,
  ): void {
    const page = layout({
      assets: this.deps.assets,
      site: this.site,
      title,
      ...(viewer ? { viewer } : {}),
      sections: viewer ? this.sections : [],
      ...(opts.live ? { live: true } : {}),
      ...(opts.refresh ? { refresh: opts.refresh } : {}),
      body,
    });
    if (headers) for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    sendPage(res, status, page, { gzip: acceptsGzip(req.headers['accept-encoding']) });
  }

  /** A clear page for who may not be here, with a way to sign in as someone else. */
  private refuse(
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    why: SafeHtml,
    viewer?: Viewer,
  ): void {
    const again = viewer
      ? html`<form method="post" action="/_auth/logout"><input type="hidden" name="_csrf" value="${viewer.csrf}"><button type="submit">Sign in as someone else</button></form>`
      : html`<p><a href="/_auth/login">Sign in</a></p>`;
    this.render(res, req, status, 'Not allowed', html`<div class="refusal">${why}</div>${again}`, viewer);
  }

  readonly handle: Handler = async (req, res, ctx) => {
    const path = ctx.url.pathname;
    if (this.deps.assets.serve(req, res, path)) return;
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    if (path.startsWith(AUTH)) return this.auth(req, res, ctx, path.slice(AUTH.length), method);
    // Paths that are no page stay a plain 404 before any sign-in, as they were before the pages.
    if (!path.startsWith('/_go/') && !this.routes.some((r) => r.regex.test(path))) {
      setSecurityHeaders(res);
      sendText(res, 404, 'Not Found\n');
      return;
    }

    const who = await this.identify(req, res, ctx);
    if (!who) return;
    const { viewer, id } = who;
    if (path.startsWith('/_go/')) return this.goTo(req, res, ctx, path.slice(5), id);

    const match = this.match(method, path);
    if (match === 'method') {
      res.setHeader('Allow', 'GET, POST');
      this.render(res, req, 405, 'Method not allowed', html`<p>${method} is not used here.</p>`, viewer);
      return;
    }
    if (!match) {
      this.render(
        res,
        req,
        404,
        'Not found',
        html`<p>No page at ${path}. <a href="/">Back to the start</a>.</p>`,
        viewer,
      );
      return;
    }
    const { route, params } = match;
    if (route.need === 'root' && viewer.role !== 'root') {
      const what = this.need === 'root' ? html`The ${this.title} pages are` : html`This action is`;
      this.refuse(
        req,
        res,
        403,
        html`<p>You are signed in as <strong>${viewer.login}</strong>, an organizer. ${what} for roots only (organizers manage users; roots manage everything).</p>`,
        viewer,
      );
      return;
    }
    let body: Buffer = Buffer.alloc(0);
    let form = new URLSearchParams();
    if (method === 'POST') {
      body = await readBody(req, this.deps.maxBodyBytes());
      const type = String(req.headers['content-type'] ?? '');
      if (type.startsWith('application/x-www-form-urlencoded')) form = parseForm(body);
      else if (type.startsWith('multipart/form-data')) form = multipartFields(body, type);
      const problem =
        crossSite(req) ??
        (sameSecret(form.get('_csrf') ?? '', viewer.csrf)
          ? undefined
          : 'the form token is missing or stale (reload the page and try again)');
      if (problem) {
        ctx.logger.warn('web.csrf_refused', {
          site: this.site,
          path,
          peer: ctx.remoteAddress,
          who: viewer.login,
          problem,
        });
        this.refuse(req, res, 403, html`<p>This request was refused: ${problem}.</p>`, viewer);
        return;
      }
    }
    await route.handler({
      req,
      res,
      ctx,
      params,
      query: ctx.url.searchParams,
      form,
      body,
      viewer,
      page: (title, content, opts = {}) =>
        this.render(res, req, opts.status ?? 200, title, content, viewer, opts),
      redirect: (location) => redirect(res, location),
    });
  };

  private match(
    method: string | undefined,
    path: string,
  ): { route: Route; params: Record<string, string> } | 'method' | undefined {
    let other = false;
    for (const route of this.routes) {
      const m = route.regex.exec(path);
      if (!m) continue;
      if (route.method !== method) {
        other = true;
        continue;
      }
      const params: Record<string, string> = {};
      route.names.forEach((n, i) => {
        params[n] = decodeURIComponent(m[i + 1]!);
      });
      return { route, params };
    }
    return other ? 'method' : undefined;
  }

  /** The session of this request, opening one by SSO when a root/organizer is logged in on the caller's machine. */
  private async identify(
    req: IncomingMessage,
    res: ServerResponse,
    ctx: RequestContext,
  ): Promise<{ viewer: Viewer; id: string } | undefined> {
    const { sessions, directory } = this.deps;
    const id = cookieValue(req.headers.cookie, SESSION_COOKIE);
    const existing = id ? sessions.get(id) : undefined;
    if (id && existing && this.stillValid(existing, ctx.remoteAddress)) {
      const role = roleOf(directory.user(existing.login)?.group ?? '');
      if (role) return { viewer: { login: existing.login, role, csrf: existing.csrf }, id };
    }
    const ssoLogin = directory.ssoLogin(ctx.remoteAddress);
    if (ssoLogin !== undefined) {
      const group = directory.user(ssoLogin)?.group;
      const role = roleOf(group ?? '');
      if (!role) {
        this.refuse(
          req,
          res,
          403,
          html`<p><strong>${ssoLogin}</strong> is logged in on this machine${group ? html` (group ${group})` : ''}. The admin pages are for organizers and roots only.</p>`,
        );
        return undefined;
      }
      const opened = await sessions.open(ssoLogin, 'sso', ctx.remoteAddress);
      res.setHeader('Set-Cookie', sessionCookie(opened.id));
      ctx.logger.info('web.signed_in', {
        site: this.site,
        login: ssoLogin,
        via: 'sso',
        peer: ctx.remoteAddress,
      });
      return { viewer: { login: ssoLogin, role, csrf: opened.session.csrf }, id: opened.id };
    }
    if (req.method === 'GET' || req.method === 'HEAD') {
      redirect(res, `/_auth/login?next=${encodeURIComponent(ctx.url.pathname + ctx.url.search)}`);
    } else {
      this.refuse(
        req,
        res,
        401,
        html`<p>You are not signed in (or your session ended). Sign in and send the form again.</p>`,
      );
    }
    return undefined;
  }

  /** An SSO session holds only while that user is still the one logged in on that machine. */
  private stillValid(s: WebSession, peer: string): boolean {
    if (s.via !== 'sso') return true;
    return s.peer === peer && this.deps.directory.ssoLogin(peer) === s.login;
  }

  private async goTo(
    req: IncomingMessage,
    res: ServerResponse,
    ctx: RequestContext,
    target: string,
    id: string,
  ): Promise<void> {
    if (target !== 'dashboard' && target !== 'mdb' && target !== 'udb') {
      redirect(res, '/');
      return;
    }
    const session = this.deps.sessions.get(id)!;
    const ticket = await this.deps.sessions.issueHandoff(session);
    const next = safeNext(ctx.url.searchParams.get('next'));
    redirect(
      res,
      `http://${hostOf(target, req, ctx.vhost)}/_auth/handoff?t=${ticket}&next=${encodeURIComponent(next)}`,
    );
  }

  private async auth(
    req: IncomingMessage,
    res: ServerResponse,
    ctx: RequestContext,
    action: string,
    method: string | undefined,
  ): Promise<void> {
    const { sessions, directory } = this.deps;
    if (action === 'login' && method === 'GET') {
      this.loginForm(req, res, 200, safeNext(ctx.url.searchParams.get('next')), '', undefined);
      return;
    }
    if (action === 'login' && method === 'POST') {
      const form = parseForm(await readBody(req, 16 * 1024));
      const next = safeNext(form.get('next'));
      const login = form.get('login') ?? '';
      // No session yet, so no token: a cross-site POST is told apart by Origin/Referer.
      const problem = crossSite(req);
      if (problem) {
        this.refuse(req, res, 403, html`<p>This sign-in was refused: ${problem}.</p>`);
        return;
      }
      const user = directory.user(login);
      const ok = sameSecret(form.get('password') ?? '', user?.password ?? '\u0000unknown');
      if (!user || !ok) {
        ctx.logger.warn('web.sign_in_failed', { site: this.site, login, peer: ctx.remoteAddress });
        this.loginForm(req, res, 401, next, login, 'Wrong login or password.');
        return;
      }
      const role = roleOf(user.group);
      if (!role) {
        this.refuse(
          req,
          res,
          403,
          html`<p><strong>${login}</strong> is a contestant (group ${user.group}). The admin pages are for organizers and roots only.</p>`,
        );
        return;
      }
      const opened = await sessions.open(login, 'password', ctx.remoteAddress);
      ctx.logger.info('web.signed_in', { site: this.site, login, via: 'password', peer: ctx.remoteAddress });
      redirect(res, next, { 'Set-Cookie': sessionCookie(opened.id) });
      return;
    }
    if (action === 'logout' && method === 'POST') {
      const id = cookieValue(req.headers.cookie, SESSION_COOKIE);
      const session = id ? sessions.get(id) : undefined;
      const form = parseForm(await readBody(req, 16 * 1024));
      if (id && session) {
        const problem =
          crossSite(req) ??
          (sameSecret(form.get('_csrf') ?? '', session.csrf) ? undefined : 'stale form token');
        if (problem) {
          this.refuse(req, res, 403, html`<p>Sign-out refused: ${problem}.</p>`);
          return;
        }
        await sessions.close(id);
        ctx.logger.info('web.signed_out', { site: this.site, login: session.login, peer: ctx.remoteAddress });
      }
      redirect(res, '/_auth/signed-out', { 'Set-Cookie': clearedSessionCookie() });
      return;
    }
    if (action === 'signed-out' && method === 'GET') {
      this.render(
        res,
        req,
        200,
        'Signed out',
        html`<p>You are signed out. <a href="/_auth/login">Sign in again</a> (from a machine where you are logged in, visiting any page signs you in directly).</p>`,
      );
      return;
    }
    if (action === 'handoff' && method === 'GET') {
      const ticket = await sessions.takeHandoff(ctx.url.searchParams.get('t') ?? '');
      if (!ticket || ticket.peer !== ctx.remoteAddress) {
        redirect(res, '/_auth/login');
        return;
      }
      const opened = await sessions.open(ticket.login, ticket.via, ctx.remoteAddress);
      redirect(res, safeNext(ctx.url.searchParams.get('next')), { 'Set-Cookie': sessionCookie(opened.id) });
      return;
    }
    this.render(res, req, 404, 'Not found', html`<p>No such page.</p>`);
  }

  private loginForm(
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    next: string,
    login: string,
    error: string | undefined,
  ): void {
    this.render(
      res,
      req,
      status,
      `Sign in to ${this.title}`,
      html`${error ? html`<p class="refusal" role="alert">${error}</p>` : ''}<form method="post" action="/_auth/login"><input type="hidden" name="next" value="${next}"><label>Login <input name="login" value="${login}" autocomplete="username" required autofocus></label><label>Password <input type="password" name="password" autocomplete="current-password" required></label><button type="submit">Sign in</button></form><p><small>Organizers and roots sign in with their UDB password. On a machine where you are logged in, pages open without this form.</small></p>`,
    );
  }
}

/**
 * Why a state-changing request looks cross-site, or undefined: its Origin (or, without one,
 * its Referer) must be this very host. Browsers send Origin with every form POST.
 */
export function crossSite(req: IncomingMessage): string | undefined {
  const host = req.headers.host;
  if (!host) return 'the request has no Host header';
  const expected = `http://${host}`.toLowerCase();
  const origin = req.headers.origin;
  if (typeof origin === 'string' && origin !== 'null') {
    return origin.toLowerCase() === expected ? undefined : `it comes from another site (${origin})`;
  }
  if (origin === 'null') return 'it comes from an opaque origin';
  const referer = req.headers.referer;
  if (typeof referer === 'string') {
    try {
      return new URL(referer).origin.toLowerCase() === expected ? undefined : 'it comes from another site';
    } catch {
      return 'its Referer is not a URL';
    }
  }
  return 'it carries neither Origin nor Referer';
}

/** The text fields of a multipart/form-data body, and files as their text content. */
export function multipartFields(body: Buffer, contentType: string): URLSearchParams {
  const out = new URLSearchParams();
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  if (!boundary) return out;
  const delimiter = `--${boundary[1] ?? boundary[2]}`;
  const text = body.toString('utf8');
  for (const part of text.split(delimiter).slice(1)) {
    if (part.startsWith('--')) break;
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd < 0) continue;
    const name = /name="([^"]*)"/i.exec(part.slice(0, headerEnd))?.[1];
    if (name === undefined) continue;
    out.append(name, part.slice(headerEnd + 4, part.endsWith('\r\n') ? -2 : undefined));
  }
  return out;
}
