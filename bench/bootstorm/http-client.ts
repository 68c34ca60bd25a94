/**
 * iPXE's two requests: `GET /bootstrap`, then `GET /boot/<mac>/`, on one keep-alive connection
 * from the machine's leased address with `Host: netboot` (iPXE sends the URL's host name).
 *
 * Written on a bare `net` socket, as iPXE's own HTTP client is (one request at a time, a
 * Content-Length or close-delimited body): the bench plays a thousand machines in one process on
 * the two cores it shares with the server under test, and node:http's client (agent, request and
 * response streams per GET) cost that process more CPU than the server spent answering.
 */
import net from 'node:net';

export interface HttpResponse {
  status: number;
  reason: string;
  body: string;
  /** Header names in lower case; a repeated header keeps its last value. */
  headers: Record<string, string>;
  /** This request went over the connection the previous one used (the server kept it open). */
  reusedSocket: boolean;
}

export type BootScriptsResult =
  | { ok: true; bootstrap: HttpResponse; boot: HttpResponse; bootstrapMs: number }
  | { ok: false; reason: string; step: 'bootstrap' | 'boot' };

/** Larger than any boot script; a head or body beyond it is a broken server, not a slow one. */
const MAX_RESPONSE_BYTES = 1 << 20;
const HEAD_END = Buffer.from('\r\n\r\n');

class BenchHttpError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

interface ParsedHead {
  status: number;
  reason: string;
  headers: Record<string, string>;
  bodyStart: number;
}

function parseHead(buf: Buffer, end: number): ParsedHead {
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
  if (!m) throw new BenchHttpError('bad-status-line');
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new BenchHttpError('bad-header');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  if (headers['transfer-encoding']) throw new BenchHttpError('chunked-unsupported');
  return { status: Number(m[1]), reason: m[2] ?? '', headers, bodyStart: end + HEAD_END.length };
}

/** One connection, one request in flight at a time. */
class Connection {
  private buf: Buffer = Buffer.alloc(0);
  private closed = false;
  private error: Error | undefined;
  private waiter: (() => void) | undefined;
  readonly socket: net.Socket;
  used = false;

  constructor(host: string, port: number, localAddress: string) {
    this.socket = net.connect({ host, port, localAddress, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => {
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      this.waiter?.();
    });
    this.socket.on('end', () => {
      this.closed = true;
      this.waiter?.();
    });
    this.socket.on('error', (e) => {
      this.error = e;
      this.closed = true;
      this.waiter?.();
    });
  }

  /** A connection the server has closed (after its last response) cannot carry another request. */
  get open(): boolean {
    return !this.closed && !this.socket.destroyed;
  }

  async get(path: string, timeoutMs: number): Promise<HttpResponse> {
    const reusedSocket = this.used;
    this.used = true;
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: netboot\r\nUser-Agent: iPXE/1.21.1\r\nConnection: keep-alive\r\n\r\n`);
    const deadline = performance.now() + timeoutMs;
    let head: ParsedHead | undefined;
    for (;;) {
      if (!head) {
        const end = this.buf.indexOf(HEAD_END);
        if (end >= 0) head = parseHead(this.buf, end);
      }
      if (head) {
        const length = head.headers['content-length'];
        const have = this.buf.length - head.bodyStart;
        if (length !== undefined && have >= Number(length)) {
          const stop = head.bodyStart + Number(length);
          const body = this.buf.subarray(head.bodyStart, stop).toString('utf8');
          this.buf = this.buf.subarray(stop);
          if (/close/i.test(head.headers.connection ?? '')) this.closed = true;
          return { status: head.status, reason: head.reason, headers: head.headers, body, reusedSocket };
        }
        if (length === undefined && this.closed && !this.error) {
          const body = this.buf.subarray(head.bodyStart).toString('utf8');
          this.buf = Buffer.alloc(0);
          return { status: head.status, reason: head.reason, headers: head.headers, body, reusedSocket };
        }
      }
      if (this.error) throw this.error;
      if (this.closed) throw new BenchHttpError('closed-early');
      if (this.buf.length > MAX_RESPONSE_BYTES) throw new BenchHttpError('response-too-large');
      const left = deadline - performance.now();
      if (left <= 0) throw new BenchHttpError('timeout');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

function reasonOf(e: unknown): string {
  if (e instanceof BenchHttpError) return e.code;
  const err = e as NodeJS.ErrnoException;
  return err.code ? err.code.toLowerCase() : 'error';
}

export async function fetchBootScripts(opts: {
  server: string;
  port?: number;
  mac: string;
  localAddress: string;
  timeoutMs: number;
}): Promise<BootScriptsResult> {
  const port = opts.port ?? 80;
  const t0 = performance.now();
  let conn = new Connection(opts.server, port, opts.localAddress);
  try {
    let bootstrap: HttpResponse;
    try {
      bootstrap = await conn.get('/bootstrap', opts.timeoutMs);
    } catch (e) {
      return { ok: false, step: 'bootstrap', reason: reasonOf(e) };
    }
    if (bootstrap.status !== 200)
      return { ok: false, step: 'bootstrap', reason: `status-${bootstrap.status}` };
    const bootstrapMs = performance.now() - t0;
    const left = Math.max(1, opts.timeoutMs - bootstrapMs);
    // A server that closed the connection gets a new one, as iPXE would open; the result then
    // says the keep-alive was not kept.
    if (!conn.open) {
      conn.close();
      conn = new Connection(opts.server, port, opts.localAddress);
    }
    let boot: HttpResponse;
    try {
      boot = await conn.get(`/boot/${opts.mac}/`, left);
    } catch (e) {
      return { ok: false, step: 'boot', reason: reasonOf(e) };
    }
    if (boot.status !== 200) return { ok: false, step: 'boot', reason: `status-${boot.status}` };
    return { ok: true, bootstrap, boot, bootstrapMs };
  } finally {
    conn.close();
  }
}
