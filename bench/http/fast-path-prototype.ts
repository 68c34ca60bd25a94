/**
 * A bench-only prototype of an HTTP/1.1 fast path for the netboot boot-storm requests, to
 * measure what such a path could save before writing one (bench/http/RESULTS.md): a plain `net`
 * server on its own loopback port that answers `GET /bootstrap` and `GET /boot/<mac>/` with
 * `Host: netboot` on keep-alive connections, doing the per-request work a real fast path must
 * keep (the per-client connection count, the peer address, the `netboot.request` log line, the
 * request counters and the one-second summary, the boot-progress record, the same script
 * bytes, a Date header, the keep-alive idle timer) and nothing else: no access log, no hand-off
 * to node:http (anything else closes the connection), the shortest head parser. It is an upper
 * bound of the saving, not a server: never use it outside this bench.
 */
import http from 'node:http';
import net from 'node:net';
import type { Gatehouse } from '../../src/app.js';
import { bootProgressOf } from '../../src/boot/service.js';
import { PerClientCount, clientAddress } from '../../src/http/client-limits.js';
import { bootAnswer, bootPathMac } from '../../src/http/netboot/policy.js';
import type { NetbootService } from '../../src/http/netboot/service.js';
import type { NetbootView } from '../../src/http/netboot/view.js';
import type { PeriodSummary } from '../../src/log-summary.js';
import type { Switch } from '../../src/mdb/model.js';
import type { Counter } from '../../src/metrics.js';
import type { Service } from '../../src/service.js';
import type { Logger } from '../../src/log.js';

const HEAD_LIMIT = 16 * 1024;

/** The netboot service's private parts this prototype reuses, so it serves from the same caches. */
interface NetbootInternals {
  view: NetbootView;
  requests: Counter<'endpoint' | 'outcome'>;
  summary: PeriodSummary<Record<'bootstrap' | 'boot' | 'register' | 'other', number>>;
  bootstrapScript(switches: readonly Switch[], baseUrl: string): string;
}

/** The netboot work of one request (see the file comment); the script, or undefined for another path. */
function netbootWork(app: Gatehouse): (path: string, client: string) => string | undefined {
  const service = app.service<NetbootService>('netboot') as unknown as NetbootInternals;
  const { view, requests, summary } = service;
  const logger = (app.http as unknown as { logger: Logger }).logger;
  const httpRequests = app.metrics.counter('gatehouse_http_requests_total', '', ['vhost', 'status']);
  const boot = bootProgressOf((app as unknown as { services: readonly Service[] }).services);

  return (path: string, client: string): string | undefined => {
    const started = Date.now();
    const netboot = app.config.netboot;
    let endpoint: 'bootstrap' | 'boot';
    let outcome: string;
    let script: string;
    let fields: Record<string, unknown>;
    if (path === '/bootstrap') {
      const switches = view.switches();
      endpoint = 'bootstrap';
      outcome = 'served';
      script = service.bootstrapScript(switches, netboot.baseUrl);
      fields = { switches: switches.length };
    } else {
      const mac = bootPathMac(path);
      if (mac === undefined) return undefined;
      const answer = bootAnswer(mac, view.current(), netboot);
      boot?.record(mac, 'bootScript', Date.now());
      endpoint = 'boot';
      outcome = answer.outcome;
      script = answer.script;
      fields = { mac: answer.mac, hostname: answer.hostname };
    }
    requests.inc({ endpoint, outcome });
    summary.c[endpoint]++;
    summary.touch();
    logger.info('netboot.request', { endpoint, outcome, path, client, ...fields, ms: Date.now() - started });
    httpRequests.inc({ vhost: 'netboot', status: '2xx' });
    return script;
  };
}

export async function startFastPathPrototype(app: Gatehouse): Promise<number> {
  const work = netbootWork(app);
  const connections = new PerClientCount();
  const reply = (path: string, client: string): string | undefined => {
    const script = work(path, client);
    if (script === undefined) return undefined;
    return (
      `HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(script)}\r\n` +
      `Date: ${new Date().toUTCString()}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n${script}`
    );
  };

  const server = net.createServer({ noDelay: true }, (socket) => {
    const client = clientAddress(socket);
    if (!connections.tryAcquire(client, app.config.http.maxConnectionsPerClient)) {
      socket.destroy();
      return;
    }
    socket.once('close', () => connections.release(client));
    socket.setTimeout(5_000, () => socket.destroy());
    socket.on('error', () => {});
    let buf: Buffer | undefined;
    socket.on('data', (d: Buffer) => {
      buf = buf ? Buffer.concat([buf, d]) : d;
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) {
          if (buf.length > HEAD_LIMIT) socket.destroy();
          return;
        }
        const lines = buf.toString('latin1', 0, end).split('\r\n');
        buf = buf.subarray(end + 4);
        const [method, target, version] = lines[0]!.split(' ');
        let host: string | undefined;
        let plain = method === 'GET' && (version === 'HTTP/1.1' || version === 'HTTP/1.0');
        for (let i = 1; i < lines.length && plain; i++) {
          const line = lines[i]!;
          const colon = line.indexOf(':');
          const name = line.slice(0, colon).toLowerCase();
          if (name === 'host') host = line.slice(colon + 1).trim();
          else if (name === 'content-length' || name === 'transfer-encoding' || name === 'upgrade')
            plain = false;
        }
        const answer =
          plain && target && app.http.resolveHost(host) === 'netboot' ? reply(target, client) : undefined;
        if (answer === undefined) {
          socket.destroy();
          return;
        }
        socket.write(answer);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, resolve));
  return (server.address() as net.AddressInfo).port;
}

/**
 * The same netboot work behind a bare node:http server (no Gatehouse dispatch: no URL object,
 * no access-log or limit hooks, no finish listeners): splits what node:http itself costs from
 * what Gatehouse's dispatch around it costs.
 */
export async function startBareNodeHttp(app: Gatehouse): Promise<number> {
  const work = netbootWork(app);
  const connections = new PerClientCount();
  const server = http.createServer(
    { requestTimeout: 0, headersTimeout: 30_000, keepAliveTimeout: 5_000 },
    (req, res) => {
      const script =
        req.method === 'GET' && app.http.resolveHost(req.headers.host) === 'netboot'
          ? work(req.url ?? '/', clientAddress(req.socket))
          : undefined;
      if (script === undefined) {
        res.writeHead(404).end();
        return;
      }
      const body = Buffer.from(script, 'utf8');
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': body.length });
      res.end(body);
    },
  );
  server.timeout = 0;
  server.on('connection', (socket: net.Socket) => {
    const client = clientAddress(socket);
    if (!connections.tryAcquire(client, app.config.http.maxConnectionsPerClient)) {
      socket.destroy();
      return;
    }
    socket.once('close', () => connections.release(client));
  });
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, resolve));
  return (server.address() as net.AddressInfo).port;
}
