import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorMessage } from '../errors.js';
import type { LogSink, Logger } from '../log.js';

export interface AccessLogConfig {
  enabled: boolean;
  /** A file (appended to, reopened on SIGHUP) or `-` for stderr. */
  path: string;
}

/** What one line says about one exchange. */
export interface AccessEntry {
  peer: string;
  time: Date;
  method: string;
  /** The request target as sent: path and query string. */
  target: string;
  httpVersion: string;
  status: number;
  bodyBytes: number;
  referer: string | undefined;
  userAgent: string | undefined;
  host: string | undefined;
  seconds: number;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** nginx's `$time_local`: `07/Dec/2026:08:35:11 +0100`. */
export function timeLocal(d: Date): string {
  const off = -d.getTimezoneOffset();
  const sign = off < 0 ? '-' : '+';
  const abs = Math.abs(off);
  return (
    `${pad(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`
  );
}

/**
 * Client-sent text the way nginx writes it into a log: `"`, `\` and non-printables as `\xHH`.
 * Node hands header bytes over as latin1 characters, so each character up to U+00FF is the
 * byte the client sent.
 */
export function escapeField(v: string | undefined): string {
  if (v === undefined || v === '') return '-';
  const hex = (b: number) => `\\x${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return v.replace(/[^\x20-\x7e]|["\\]/g, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? hex(code) : [...Buffer.from(c, 'utf8')].map(hex).join('');
  });
}

/**
 * nginx `combined` plus the Host header and the request time in seconds:
 * `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
 * "$http_referer" "$http_user_agent" "$http_host" $request_time`.
 */
export function formatAccessLine(e: AccessEntry): string {
  const request = escapeField(`${e.method} ${e.target} HTTP/${e.httpVersion}`);
  return (
    `${e.peer} - - [${timeLocal(e.time)}] "${request}" ${e.status} ${e.bodyBytes} ` +
    `"${escapeField(e.referer)}" "${escapeField(e.userAgent)}" "${escapeField(e.host)}" ${e.seconds.toFixed(3)}`
  );
}

function chunkBytes(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string')
    return Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}

/**
 * The optional HTTP access log (`http.accessLog`). A line is written when the response is
 * finished, or when the connection closes first (status 499, as nginx logs a client that
 * went away before the answer).
 */
export class AccessLog {
  private out: fs.WriteStream | undefined;
  private failed = false;
  private readonly onHangup = () => this.reopen();

  /** `sink`: where lines go instead of `config.path` (the start-up warm-up's: nowhere). */
  constructor(
    private readonly config: AccessLogConfig,
    private readonly logger: Logger,
    private readonly sink?: LogSink,
  ) {
    if (config.path !== '-' && !sink) {
      this.open();
      process.on('SIGHUP', this.onHangup);
    }
  }

  track(req: IncomingMessage, res: ServerResponse, peer: string): void {
    const started = process.hrtime.bigint();
    const time = new Date();
    let bodyBytes = 0;
    const write = res.write;
    const end = res.end;
    res.write = function (this: ServerResponse, chunk: unknown, ...rest: unknown[]) {
      bodyBytes += chunkBytes(chunk, rest[0]);
      return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    } as typeof res.write;
    res.end = function (this: ServerResponse, chunk?: unknown, ...rest: unknown[]) {
      if (typeof chunk !== 'function') bodyBytes += chunkBytes(chunk, rest[0]);
      return (end as (...a: unknown[]) => ServerResponse).call(this, chunk, ...rest);
    } as typeof res.end;
    const done = () => {
      res.off('finish', done);
      res.off('close', done);
      this.write(
        formatAccessLine({
          peer,
          time,
          method: req.method ?? '-',
          target: req.url ?? '-',
          httpVersion: req.httpVersion,
          status: res.writableFinished || res.headersSent ? res.statusCode : 499,
          bodyBytes: req.method === 'HEAD' ? 0 : bodyBytes,
          referer: req.headers.referer,
          userAgent: req.headers['user-agent'],
          host: req.headers.host,
          seconds: Number(process.hrtime.bigint() - started) / 1e9,
        }),
      );
    };
    res.once('finish', done);
    res.once('close', done);
  }

  /** Reopens the file (logrotate moved it away and sent SIGHUP). */
  reopen(): void {
    if (this.config.path === '-' || this.sink) return;
    const old = this.out;
    this.open();
    old?.end();
    this.logger.info('http.access_log_reopened', { path: this.config.path });
  }

  close(): void {
    process.off('SIGHUP', this.onHangup);
    this.out?.end();
    this.out = undefined;
  }

  private open(): void {
    this.failed = false;
    const out = fs.createWriteStream(this.config.path, { flags: 'a' });
    out.on('error', (e) => {
      // An access log that cannot be written needs the operator (disk full, permissions).
      if (!this.failed)
        this.logger.error('http.access_log_failed', { path: this.config.path, error: errorMessage(e) });
      this.failed = true;
    });
    this.out = out;
  }

  private write(line: string): void {
    if (this.sink) this.sink(line);
    else if (this.config.path === '-') process.stderr.write(`${line}\n`);
    else if (this.out && !this.failed) this.out.write(`${line}\n`);
  }
}
