import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { acceptsGzip, setSecurityHeaders } from './respond.js';

/**
 * Static files of the admin pages, served by Gatehouse itself (the LAN has no Internet): the
 * classless Pico stylesheet read from its npm package, and our own `static/` folder (a few
 * rules on top, the live-update script). Read once at start, gzipped once, served with a
 * content hash in the URL and a year of caching, so a new version is a new URL.
 */
export const ASSETS_PREFIX = '/_static/';

interface Asset {
  body: Buffer;
  gzip: Buffer;
  type: string;
  hash: string;
}

const require = createRequire(import.meta.url);
/**
 * The package's `static/` folder: the nearest one above this module. `src/web` and `dist/web`
 * are two levels below the package root, a bench's own build (`bench/out/<name>/web`) deeper.
 */
const STATIC_DIR = findStaticDir(path.dirname(fileURLToPath(import.meta.url)));

function findStaticDir(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'static');
    if (fs.existsSync(path.join(candidate, 'gatehouse.css'))) return candidate;
    if (path.dirname(dir) === dir) return path.resolve(from, '../../static');
  }
}

const SOURCES: Record<string, { file: () => string; type: string }> = {
  'pico.css': {
    file: () => require.resolve('@picocss/pico/css/pico.classless.min.css'),
    type: 'text/css; charset=utf-8',
  },
  'gatehouse.css': { file: () => path.join(STATIC_DIR, 'gatehouse.css'), type: 'text/css; charset=utf-8' },
  'live.js': { file: () => path.join(STATIC_DIR, 'live.js'), type: 'text/javascript; charset=utf-8' },
};

export class Assets {
  private readonly byName = new Map<string, Asset>();

  constructor() {
    for (const [name, src] of Object.entries(SOURCES)) {
      const body = fs.readFileSync(src.file());
      const hash = createHash('sha256').update(body).digest('hex').slice(0, 12);
      this.byName.set(name, { body, gzip: gzipSync(body, { level: 9 }), type: src.type, hash });
    }
  }

  /** The URL of an asset, versioned by content. */
  url(name: keyof typeof SOURCES & string): string {
    const a = this.byName.get(name);
    if (!a) throw new Error(`unknown asset ${name}`);
    return `${ASSETS_PREFIX}${name}?v=${a.hash}`;
  }

  /** Answers GET `/_static/<name>`; false when the path is not an asset. */
  serve(req: IncomingMessage, res: ServerResponse, pathname: string): boolean {
    if (!pathname.startsWith(ASSETS_PREFIX)) return false;
    const asset = this.byName.get(pathname.slice(ASSETS_PREFIX.length));
    setSecurityHeaders(res);
    if (!asset) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('no such asset\n');
      return true;
    }
    const etag = `"${asset.hash}"`;
    const headers: Record<string, string | number> = {
      'Content-Type': asset.type,
      'Cache-Control': 'public, max-age=31536000, immutable',
      ETag: etag,
      Vary: 'Accept-Encoding',
    };
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, headers);
      res.end();
      return true;
    }
    const gz = acceptsGzip(req.headers['accept-encoding']);
    const body = gz ? asset.gzip : asset.body;
    if (gz) headers['Content-Encoding'] = 'gzip';
    headers['Content-Length'] = body.length;
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  }
}
