import type http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { LogLimiter } from '../tftp/log-limiter.js';
import { hasBody } from './body.js';
import { type DiscardReason, closeAfterResponse, discardBody, discardReason } from './body-discard.js';

export interface ClientLimitsConfig {
  maxConnectionsPerClient: number;
  maxBodiesPerClient: number;
  bodyTimeoutMs: number;
}

/** Counts what each client address holds; an address with nothing is forgotten. */
export class PerClientCount {
  private readonly counts = new Map<string, number>();

  tryAcquire(client: string, max: number): boolean {
    const n = this.counts.get(client) ?? 0;
    if (n >= max) return false;
    this.counts.set(client, n + 1);
    return true;
  }

  release(client: string): void {
    const n = this.counts.get(client) ?? 0;
    if (n <= 1) this.counts.delete(client);
    else this.counts.set(client, n - 1);
  }

  of(client: string): number {
    return this.counts.get(client) ?? 0;
  }
}

/** `::ffff:192.0.2.1` → `192.0.2.1`: one key per machine whichever socket family it came in on. */
export function clientAddress(socket: Socket): string {
  return (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
}

/**
 * Keeps one LAN machine from starving the others on the shared HTTP server (netboot, SSO,
 * RPC): at most `maxConnectionsPerClient` open connections per address (the next is closed
 * before a byte of it is read), at most `maxBodiesPerClient` request bodies being received
 * at once (the next gets 429 and its connection is closed), and every body complete within
 * `bodyTimeoutMs` (else 408, slowloris). A refused body is discarded without JavaScript per
 * chunk (body-discard.ts), and a response sent before its request body was complete closes
 * the connection instead of reading the rest.
 */
export class ClientLimits {
  private readonly connections = new PerClientCount();
  private readonly bodies = new PerClientCount();
  private readonly refused;
  private readonly logs: LogLimiter;

  constructor(
    private config: ClientLimitsConfig,
    logger: Logger,
    metrics: Metrics,
  ) {
    this.refused = metrics.counter(
      'gatehouse_http_refused_total',
      'HTTP connections and requests refused to protect other clients, by reason',
      ['reason'],
    );
    this.logs = new LogLimiter(logger, 20, 10_000, undefined, 'http.log_suppressed');
  }

  reload(config: ClientLimitsConfig): void {
    this.config = config;
  }

  /** Installs the per-client connection cap on `server`. */
  attach(server: http.Server): void {
    server.on('connection', (socket: Socket) => {
      const client = clientAddress(socket);
      if (!this.connections.tryAcquire(client, this.config.maxConnectionsPerClient)) {
        this.refuse('too_many_connections', client, { limit: this.config.maxConnectionsPerClient });
        socket.destroy();
        return;
      }
      socket.once('close', () => this.connections.release(client));
    });
  }

  /**
   * Called for every request before its handler. Returns false when the request was refused
   * and answered here.
   */
  admit(req: IncomingMessage, res: ServerResponse, client: string): boolean {
    res.once('finish', () => {
      const reason = discardReason(req);
      if (closeAfterResponse(req) && reason && reason !== 'unread')
        this.refuse(reason, client, { status: res.statusCode });
    });
    if (hasBody(req)) announceCloseIfUnread(req, res);
    if (!hasBody(req) || req.complete) return true;
    if (!this.bodies.tryAcquire(client, this.config.maxBodiesPerClient)) {
      this.answer(
        req,
        res,
        'too_many_bodies',
        429,
        `more than ${this.config.maxBodiesPerClient} request bodies at once from ${client}; retry later`,
      );
      return false;
    }
    let held = true;
    const timer = setTimeout(() => {
      if (req.complete) return;
      this.answer(
        req,
        res,
        'timeout',
        408,
        `request body not received within ${this.config.bodyTimeoutMs} ms`,
      );
    }, this.config.bodyTimeoutMs);
    timer.unref();
    const release = () => {
      clearTimeout(timer);
      if (!held) return;
      held = false;
      this.bodies.release(client);
    };
    req.once('end', release);
    req.once('close', release);
    res.once('close', release);
    return true;
  }

  /** Refuses the body of `req` with `status` (or closes the connection if an answer has begun). */
  private answer(
    req: IncomingMessage,
    res: ServerResponse,
    reason: DiscardReason,
    status: number,
    message: string,
  ): void {
    discardBody(req, reason);
    if (res.headersSent) {
      req.socket.destroy();
      this.refuse(reason, clientAddress(req.socket), { status: 'closed' });
      return;
    }
    const body = Buffer.from(`${message}\n`, 'utf8');
    const headers: Record<string, string | number> = {
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': body.length,
      Connection: 'close',
    };
    if (status === 429) headers['Retry-After'] = 1;
    res.writeHead(status, headers);
    res.end(body);
  }

  private refuse(reason: string, client: string, fields: Record<string, unknown>): void {
    this.refused.inc({ reason });
    this.logs.log('info', 'http.refused', { reason, peer: client, ...fields });
  }
}

/**
 * A response whose head goes out before its request body has arrived (a 404 for an unknown
 * path, a refusal) ends its connection (closeAfterResponse): say so in the head
 * (`Connection: close`), or a keep-alive client would send its next request on a socket that
 * is about to close and get a reset instead of an answer (RFC 9112 §9.6).
 */
function announceCloseIfUnread(req: IncomingMessage, res: ServerResponse): void {
  const writeHead = res.writeHead;
  res.writeHead = function writeHeadClosingIfUnread(this: ServerResponse, ...args: unknown[]) {
    if (!req.complete || discardReason(req) !== undefined) this.shouldKeepAlive = false;
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse['writeHead'];
}
