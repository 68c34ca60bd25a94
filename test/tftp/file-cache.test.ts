import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { FileCache, type FileSource, type OpenResult } from '../../src/tftp/file-cache.js';
import { tempDir } from '../helpers/tmp.js';

function bytesOf(r: OpenResult): Buffer | undefined {
  return r.kind === 'found' && r.source.kind === 'memory' ? r.source.data : undefined;
}

function setup(t: Parameters<typeof tempDir>[0]) {
  const dir = tempDir(t, 'ghtftp-cache-');
  const root = path.join(dir, 'root');
  fs.mkdirSync(root);
  const write = (rel: string, data: string | Buffer) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), data, { mode: 0o644 });
  };
  return { dir, root, write };
}

t.test('serves bytes from memory; a second request is a hit on the same buffer', async (t) => {
  const { root, write } = setup(t);
  write('prologin.kpxe', 'ipxe image');
  const cache = new FileCache(1 << 20);
  const a = await cache.open(root, 'prologin.kpxe', 'octet');
  const b = await cache.open(root, 'prologin.kpxe', 'octet');
  t.match(a, { kind: 'found', cache: 'miss' });
  t.match(b, { kind: 'found', cache: 'hit' });
  t.equal(bytesOf(a)?.toString(), 'ipxe image');
  t.equal(bytesOf(a), bytesOf(b), 'same buffer, not a copy');
  t.match(cache.stats(), { bytes: 10, entries: 1, hits: 1, misses: 1 });
});

t.test(
  'invalidated when the file changes: rewrite in place (same size), replace by rename, resize',
  async (t) => {
    const { root, write } = setup(t);
    write('f', 'AAAA');
    const cache = new FileCache(1 << 20);
    t.equal(bytesOf(await cache.open(root, 'f', 'octet'))?.toString(), 'AAAA');
    fs.writeFileSync(path.join(root, 'f'), 'BBBB'); // same inode, same size, new mtime/ctime
    t.equal(bytesOf(await cache.open(root, 'f', 'octet'))?.toString(), 'BBBB', 'rewrite in place');
    fs.writeFileSync(path.join(root, 'f.new'), 'CCCC', { mode: 0o644 });
    fs.renameSync(path.join(root, 'f.new'), path.join(root, 'f')); // new inode
    t.equal(bytesOf(await cache.open(root, 'f', 'octet'))?.toString(), 'CCCC', 'rename over');
    fs.appendFileSync(path.join(root, 'f'), 'DD');
    t.equal(bytesOf(await cache.open(root, 'f', 'octet'))?.toString(), 'CCCCDD', 'grown');
    t.equal(cache.stats().entries, 1, 'one entry per path');
    t.equal(cache.stats().bytes, 6, 'old versions no longer counted');
  },
);

t.test('bounded in bytes, least recently used out first', async (t) => {
  const { root, write } = setup(t);
  for (const n of ['a', 'b', 'c']) write(n, Buffer.alloc(100, n));
  const cache = new FileCache(250);
  await cache.open(root, 'a', 'octet');
  await cache.open(root, 'b', 'octet');
  await cache.open(root, 'a', 'octet'); // a is now more recent than b
  await cache.open(root, 'c', 'octet');
  t.equal(cache.stats().bytes, 200);
  t.match(await cache.open(root, 'a', 'octet'), { cache: 'hit' }, 'a kept');
  t.match(await cache.open(root, 'b', 'octet'), { cache: 'miss' }, 'b evicted');
  cache.setMaxBytes(50);
  t.equal(cache.stats().bytes, 0, 'shrinking the budget evicts');
});

t.test('a file bigger than the cache is read by range from disk', async (t) => {
  const { root, write } = setup(t);
  const big = Buffer.from(Array.from({ length: 5000 }, (_, i) => i & 0xff));
  write('big', big);
  const cache = new FileCache(1000);
  const r = await cache.open(root, 'big', 'octet');
  t.match(r, { kind: 'found', cache: 'bypass' });
  const src = (r as { source: FileSource }).source;
  t.equal(src.kind, 'disk');
  if (src.kind === 'disk') {
    t.same(await src.read(1000, 512), big.subarray(1000, 1512));
    t.same(await src.read(4900, 512), big.subarray(4900), 'short read at the end');
  }
  src.close();
  t.equal(cache.stats().bytes, 0);
  t.match(await cache.open(root, 'big', 'netascii'), { kind: 'too-large' });
});

t.test('netascii conversion is done once and cached', async (t) => {
  const { root, write } = setup(t);
  write('menu.txt', 'a\nb\n');
  const cache = new FileCache(1 << 20);
  const a = await cache.open(root, 'menu.txt', 'netascii');
  t.equal(bytesOf(a)?.toString('latin1'), 'a\r\nb\r\n');
  const b = await cache.open(root, 'menu.txt', 'netascii');
  t.equal(bytesOf(a), bytesOf(b));
  t.equal(bytesOf(await cache.open(root, 'menu.txt', 'octet'))?.toString(), 'a\nb\n');
});

t.test('confinement: symlinks inside the root work, symlinks out of it are refused', async (t) => {
  const { dir, root, write } = setup(t);
  write('real/ipxe.efi', 'efi');
  fs.writeFileSync(path.join(dir, 'secret'), 'secret', { mode: 0o644 });
  fs.symlinkSync('real/ipxe.efi', path.join(root, 'alias.efi'));
  fs.symlinkSync('../secret', path.join(root, 'escape'));
  fs.symlinkSync('/etc/passwd', path.join(root, 'passwd'));
  fs.symlinkSync(dir, path.join(root, 'updir'));
  const cache = new FileCache(1 << 20);
  t.equal(bytesOf(await cache.open(root, 'alias.efi', 'octet'))?.toString(), 'efi');
  t.match(await cache.open(root, 'escape', 'octet'), { kind: 'denied' });
  t.match(await cache.open(root, 'passwd', 'octet'), { kind: 'denied' });
  t.match(
    await cache.open(root, 'updir/secret', 'octet'),
    { kind: 'denied' },
    'escape through a symlinked directory',
  );
  // The root itself may be a symlink (e.g. /srv/tftp -> /data/tftp).
  fs.symlinkSync(root, path.join(dir, 'root-link'));
  t.equal(
    bytesOf(await cache.open(path.join(dir, 'root-link'), 'real/ipxe.efi', 'octet'))?.toString(),
    'efi',
  );
});

t.test('missing file, missing root, directories, private files and FIFOs', async (t) => {
  const { dir, root, write } = setup(t);
  write('sub/x', 'x');
  write('private', 'p');
  fs.chmodSync(path.join(root, 'private'), 0o600);
  execFileSync('mkfifo', [path.join(root, 'fifo')]);
  fs.chmodSync(path.join(root, 'fifo'), 0o644);
  const cache = new FileCache(1 << 20);
  t.match(await cache.open(root, 'missing.bin', 'octet'), { kind: 'missing' });
  t.match(await cache.open(root, 'x/y', 'octet'), { kind: 'missing' });
  t.match(await cache.open(root, 'sub/x/y', 'octet'), { kind: 'missing' }, 'ENOTDIR');
  t.match(await cache.open(path.join(dir, 'nope'), 'x', 'octet'), { kind: 'no-root' });
  t.match(await cache.open(root, 'sub', 'octet'), { kind: 'denied' }, 'directory');
  t.match(
    await cache.open(root, 'private', 'octet'),
    { kind: 'denied' },
    'not world-readable (tftp-hpa rule)',
  );
  t.match(await cache.open(root, 'fifo', 'octet'), { kind: 'denied' }, 'FIFO refused without hanging');
});

t.test('concurrent requests for a cold file read it once', async (t) => {
  const { root, write } = setup(t);
  write('boot.img', Buffer.alloc(200_000, 7));
  const cache = new FileCache(1 << 20);
  const results = await Promise.all(Array.from({ length: 50 }, () => cache.open(root, 'boot.img', 'octet')));
  const buffers = new Set(results.map(bytesOf));
  t.equal(buffers.size, 1, 'all 50 got the one buffer that was read');
  t.equal(cache.stats().entries, 1);
});
