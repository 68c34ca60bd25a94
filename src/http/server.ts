import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseListen } from '../config/listen.js';
import { GatehouseError, errorMessage } from '../errors.js';
import type { LogSink, Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { AccessLog } from './access-log.js';
import { ClientLimits, clientAddress } from './client-limits.js';
import { type HttpConfig, httpConfigSchema } from './config.js';
import { answerHandlerError } from './handler-error.js';
import { sendText } from './respond.js';

export interface RequestContext {
  /** Virtual host name the request was routed to (`mdb`, `sso`, … or `default`). */
  vhost: string;
  url: URL;
  /** The TCP peer address (never a header). */
  remoteAddress: string;
  logger: Logger;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, ctx: RequestContext) => void | Promise<void>;

/**
 * One HTTP server for every web service, routed by the Host header like the original nginx
 * (spec §0.3): bare name, `<name>.<domain>`, with or without `:port`. Unknown hosts and
 * addresses go to the default host (health, readiness, metrics, admin API).
 */
export class HttpServer {
  private readonly servers: http.Server[] = [];
  private readonly vhosts = new Map<string, Handler>();
  private defaultHandler: Handler | undefined;
  private readonly requests;
  private readonly limits: ClientLimits;
  private accessLog: AccessLog | undefined;

  constructor(
    private readonly logger: Logger,
    metrics: Metrics,
    private readonly domain: string,
    private config: HttpConfig = httpConfigSchema.parse({}),
    /** Where access-log lines go instead of `accessLog.path` (the netboot warm-up's server: nowhere). */
    private readonly accessLogSink?: LogSink,
  ) {
    this.limits = new ClientLimits(config, logger, metrics);
    this.accessLog = this.newAccessLog(config);
    this.requests = metrics.counter('gatehouse_http_requests_total', 'HTTP requests by virtual host and status class', [
      'vhost',
      'status',
    ]);
  }

  /** Routes `name` (and `name.<domain>`) to `handler`. */
  vhost(name: string, handler: Handler): void {
    this.vhosts.set(name.toLowerCase(), handler);
  }

  /** The handler of a virtual host, so a later service can wrap it (the admin pages on `mdb`/`udb`). */
  handlerOf(name: string): Handler | undefined {
    return this.vhosts.get(name.toLowerCase());
  }

  setDefault(handler: Handler): void {
    this.defaultHandler = handler;
  }

  resolveHost(hostHeader: string | undefined): string {
    if (!hostHeader) return 'default';
    let host = hostHeader.trim().toLowerCase();
    if (host.startsWith('[')) return 'default';
    host = host.replace(/:\d+$/, '').replace(/\.$/, '');
    // `<name>.localhost` resolves to loopback in browsers (RFC 6761 §6.3): the demo's way to
    // reach http://mdb.localhost:8080/ without editing /etc/hosts.
    for (const suffix of [`.${this.domain}`, '.localhost']) {
      if (host.endsWith(suffix)) {
        host = host.slice(0, -suffix.length);
        break;
      }
    }
    return this.vhosts.has(host) ? host : 'default';
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const vhost = this.resolveHost(req.headers.host);
    const handler = vhost === 'default' ? this.defaultHandler : this.vhosts.get(vhost);
    const remoteAddress = clientAddress(req.socket);
    res.on('finish', () => this.requests.inc({ vhost, status: `${Math.floor(res.statusCode / 100)}xx` }));
    this.accessLog?.track(req, res, remoteAddress);
    if (!this.limits.admit(req, res, remoteAddress)) return;
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      sendText(res, 400, 'bad request target\n');
      return;
    }
    if (!handler) {
      sendText(res, 404, 'Not Found\n');
      return;
    }
    try {
      await handler(req, res, { vhost, url, remoteAddress, logger: this.logger });
    } catch (e) {
      answerHandlerError(res, e, this.logger, { vhost, path: url.pathname, peer: remoteAddress });
    }
  }

  /** Applies a new `http:` section (limits, access log); listen addresses need a restart. */
  reload(config: HttpConfig): void {
    this.limits.reload(config);
    if (JSON.stringify(config.accessLog) !== JSON.stringify(this.config.accessLog)) {
      this.accessLog?.close();
      this.accessLog = this.newAccessLog(config);
    }
    this.config = config;
  }

  private newAccessLog(config: HttpConfig): AccessLog | undefined {
    return config.accessLog.enabled ? new AccessLog(config.accessLog, this.logger, this.accessLogSink) : undefined;
  }

  async listen(addresses: readonly string[]): Promise<void> {
    for (const a of addresses) {
      const { host, port } = parseListen(a);
      const server = http.createServer({ requestTimeout: 0, headersTimeout: 30_000, keepAliveTimeout: 5_000 }, (req, res) => {
        void this.dispatch(req, res);
      });
      // /poll streams stay open for days (spec §0.3): no socket idle timeout.
      server.timeout = 0;
      this.limits.attach(server);
      server.on('clientError', (err, socket) => {
        if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
        this.logger.debug('http.client_error', { error: err });
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', (e) =>
          reject(new GatehouseError('GH_LISTEN_FAILED', `cannot listen on ${a} for HTTP: ${errorMessage(e)}`)),
        );
        server.listen({ port, host, backlog: this.config.listenBacklog }, () => resolve());
      });
      this.servers.push(server);
      this.logger.info('http.listening', { address: this.addresses().at(-1) });
    }
  }

  addresses(): string[] {
    return this.servers.map((s) => {
      const a = s.address() as AddressInfo;
      return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
    });
  }

  /** The first listening port (tests bind port 0). */
  get port(): number {
    return (this.servers[0]?.address() as AddressInfo | undefined)?.port ?? 0;
  }

  async close(): Promise<void> {
    await Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
    this.servers.length = 0;
    this.accessLog?.close();
  }
}
