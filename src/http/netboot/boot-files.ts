import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Counter } from '../../metrics.js';
import { sendText } from '../respond.js';
import type { Handler } from '../server.js';

export interface BootFilesOptions {
  /** Directory served; every request is confined to it, symlinks included. */
  root: string;
  /** URL prefix such as `/boot/`. */
  prefix: string;
  files: Counter<'result'>;
}

/**
 * Resolves `<prefix><relative>` to a file inside `root`, or undefined. Refuses `..`, NUL, empty
 * segments and anything whose real path (symlinks resolved) leaves the root.
 */
export function resolveBootFile(root: string, prefix: string, pathname: string): string | undefined {
  if (!pathname.startsWith(prefix)) return undefined;
  let rel: string;
  try {
    rel = decodeURIComponent(pathname.slice(prefix.length));
  } catch {
    return undefined;
  }
  if (rel === '' || rel.includes('\0')) return undefined;
  const parts = rel.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) return undefined;
  let realRoot: string;
  let real: string;
  try {
    realRoot = fs.realpathSync(root);
    real = fs.realpathSync(path.join(realRoot, ...parts));
  } catch {
    return undefined;
  }
  if (!real.startsWith(realRoot + path.sep)) return undefined;
  return real;
}

/**
 * Serves kernels and initrds on the RFS host names (`GET`/`HEAD http://rfs0/boot/<file>`), the
 * job of the RFS machines' nginx in the original deployment. One log line per request.
 */
export function bootFilesHandler(opts: BootFilesOptions): Handler {
  return async (req, res, ctx) => {
    const started = Date.now();
    const log = (status: number, bytes: number, file?: string) => {
      opts.files.inc({ result: String(status) });
      ctx.logger.info('netboot.file', {
        host: ctx.vhost,
        path: ctx.url.pathname,
        client: ctx.remoteAddress,
        status,
        bytes,
        file,
        ms: Date.now() - started,
      });
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      sendText(res, 405, 'Method Not Allowed\n');
      log(405, 0);
      return;
    }
    const file = resolveBootFile(opts.root, opts.prefix, ctx.url.pathname);
    let stat: fs.Stats | undefined;
    try {
      stat = file ? fs.statSync(file) : undefined;
    } catch {
      stat = undefined;
    }
    if (!file || !stat?.isFile()) {
      sendText(res, 404, 'Not Found\n');
      log(404, 0);
      return;
    }
    res.writeHead(200, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': stat.size,
      'Last-Modified': stat.mtime.toUTCString(),
    });
    if (req.method === 'HEAD') {
      res.end();
      log(200, 0, file);
      return;
    }
    try {
      await pipeline(fs.createReadStream(file), res);
      log(200, stat.size, file);
    } catch (e) {
      // The client went away mid-transfer (a rebooting PXE client): nothing to answer.
      ctx.logger.debug('netboot.file_aborted', {
        path: ctx.url.pathname,
        client: ctx.remoteAddress,
        error: e,
      });
      opts.files.inc({ result: 'aborted' });
    }
  };
}
