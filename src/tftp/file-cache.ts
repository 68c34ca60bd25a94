/**
 * Boot files in memory, so a storm of 1000 PXE ROMs asking for the same image reads it once.
 *
 * Every request still resolves the path and fstat()s the opened file: a cached copy is used only
 * while device, inode, size, mtime and ctime (nanoseconds) are unchanged, so replacing a file
 * (rename over it, or rewrite in place) is seen by the next request. The cache is bounded in
 * bytes (least recently used first out); a file bigger than the whole cache is not cached and is
 * read from disk by range for each transfer.
 *
 * Confinement: the requested path (already free of `..`, see policy.ts) is resolved with
 * realpath(3) and must stay under the resolved root, so a symlink pointing outside is refused.
 * The final open uses O_NOFOLLOW. As tftp-hpa does, only world-readable regular files are
 * served: a file the operator made private stays private even if Gatehouse runs as root.
 *
 * Cached bytes live in SharedArrayBuffers: transfer worker threads (transfer-worker.ts) get a
 * view of the same memory, so a file is read and held once however many workers serve it.
 * Eviction only drops the cache's reference; transfers still running keep theirs.
 */
import fsSync, { constants as C } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { toNetascii } from './netascii.js';
import type { TransferMode } from './policy.js';

/** The bytes of one transfer: in memory (cached), or an open file read by range. */
export type FileSource =
  | { kind: 'memory'; size: number; data: Buffer; close(): void }
  | { kind: 'disk'; size: number; read(offset: number, length: number): Promise<Buffer>; close(): void };

export type OpenResult =
  /** `cache`: hit = served from memory as is, miss = (re)read into the cache, bypass = too big to cache. */
  | { kind: 'found'; source: FileSource; cache: 'hit' | 'miss' | 'bypass' }
  | { kind: 'missing' }
  | { kind: 'denied' }
  | { kind: 'no-root' }
  | { kind: 'too-large' }
  /** Out of file descriptors: a server condition, not the client's fault; worth a retry. */
  | { kind: 'unavailable' };

interface Identity {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

interface Entry {
  id: Identity;
  data: Buffer;
  netascii: Buffer | undefined;
  /** Bytes counted against the budget (data + netascii). */
  bytes: number;
}

export interface FileCacheStats {
  bytes: number;
  entries: number;
  hits: number;
  misses: number;
}

const sameIdentity = (a: Identity, b: Identity): boolean =>
  a.dev === b.dev &&
  a.ino === b.ino &&
  a.size === b.size &&
  a.mtimeNs === b.mtimeNs &&
  a.ctimeNs === b.ctimeNs;

const noop = (): void => {};

export class FileCache {
  /** Insertion order = recency order (re-inserted on each hit). */
  private readonly entries = new Map<string, Entry>();
  /** Loads in progress, so concurrent requests for one file read it once. */
  private readonly loading = new Map<string, Promise<Entry | undefined>>();
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(private maxBytes: number) {}

  setMaxBytes(maxBytes: number): void {
    this.maxBytes = maxBytes;
    this.evict();
  }

  stats(): FileCacheStats {
    return { bytes: this.bytes, entries: this.entries.size, hits: this.hits, misses: this.misses };
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  /**
   * Opens `relative` (policy-checked: no empty, `.` or `..` components) under `root` for a
   * transfer in `mode`. Never throws for ordinary filesystem trouble: it maps to a lookup result.
   */
  async open(root: string, relative: string, mode: TransferMode): Promise<OpenResult> {
    // Path resolution, open and fstat are synchronous on purpose: with the dentry and inode
    // caches warm they take microseconds, while five round trips through libuv's thread pool
    // took milliseconds per request on a busy box (a boot storm sends a thousand at once).
    // Only reading file contents (a cache miss) goes to the thread pool.
    let rootReal: string;
    try {
      rootReal = fsSync.realpathSync.native(root);
    } catch {
      return { kind: 'no-root' };
    }
    let real: string;
    try {
      real = fsSync.realpathSync.native(path.join(rootReal, relative));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENAMETOOLONG'
        ? { kind: 'missing' }
        : { kind: 'denied' };
    }
    if (!real.startsWith(rootReal.endsWith(path.sep) ? rootReal : rootReal + path.sep)) {
      return { kind: 'denied' };
    }
    let fd: number;
    try {
      // O_NONBLOCK: opening a FIFO someone left in the root must not hang the server.
      fd = fsSync.openSync(real, C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EMFILE' || code === 'ENFILE') return { kind: 'unavailable' };
      return code === 'ENOENT' ? { kind: 'missing' } : { kind: 'denied' };
    }
    let keepOpen = false;
    try {
      const st = fsSync.fstatSync(fd, { bigint: true });
      if (!st.isFile() || (st.mode & BigInt(C.S_IROTH)) === 0n) return { kind: 'denied' };
      const id: Identity = {
        dev: st.dev,
        ino: st.ino,
        size: st.size,
        mtimeNs: st.mtimeNs,
        ctimeNs: st.ctimeNs,
      };
      const size = Number(st.size);
      if (size > this.maxBytes) {
        if (mode === 'netascii') return { kind: 'too-large' };
        keepOpen = true;
        return { kind: 'found', cache: 'bypass', source: diskSource(fd, size) };
      }
      const cached = this.entries.get(real);
      const hit = cached !== undefined && sameIdentity(cached.id, id);
      let entry: Entry | undefined;
      if (hit) {
        this.hits++;
        this.touch(real, cached);
        entry = cached;
      } else {
        this.misses++;
        entry = await this.load(real, fd, id);
      }
      if (!entry) return { kind: 'denied' };
      const cache = hit ? 'hit' : 'miss';
      if (mode === 'netascii') {
        if (!entry.netascii) {
          entry.netascii = shareable(toNetascii(entry.data));
          if (this.entries.get(real) === entry && entry.netascii !== entry.data) {
            entry.bytes += entry.netascii.length;
            this.bytes += entry.netascii.length;
            this.evict();
          }
        }
        return { kind: 'found', cache, source: memorySource(entry.netascii) };
      }
      return { kind: 'found', cache, source: memorySource(entry.data) };
    } catch {
      return { kind: 'denied' };
    } finally {
      if (!keepOpen) closeFd(fd);
    }
  }

  private async load(real: string, fd: number, id: Identity): Promise<Entry | undefined> {
    const key = `${real}\0${id.dev}:${id.ino}:${id.size}:${id.mtimeNs}:${id.ctimeNs}`;
    let pending = this.loading.get(key);
    if (!pending) {
      pending = readWhole(fd, Number(id.size)).then(
        (data) => {
          if (!data) return undefined;
          const entry: Entry = { id, data, netascii: undefined, bytes: data.length };
          this.insert(real, entry);
          return entry;
        },
        () => undefined,
      );
      this.loading.set(key, pending);
      void pending.finally(() => this.loading.delete(key));
    }
    return pending;
  }

  private insert(real: string, entry: Entry): void {
    const old = this.entries.get(real);
    if (old) {
      this.entries.delete(real);
      this.bytes -= old.bytes;
    }
    this.entries.set(real, entry);
    this.bytes += entry.bytes;
    this.evict();
  }

  private touch(real: string, entry: Entry): void {
    this.entries.delete(real);
    this.entries.set(real, entry);
  }

  private evict(): void {
    for (const [key, entry] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(key);
      this.bytes -= entry.bytes;
    }
  }
}

const readAt = promisify(fsSync.read);

function closeFd(fd: number): void {
  fsSync.close(fd, noop);
}

/** Reads exactly `size` bytes; undefined if the file changed length while being read. */
async function readWhole(fd: number, size: number): Promise<Buffer | undefined> {
  const data = Buffer.from(new SharedArrayBuffer(size));
  let off = 0;
  while (off < size) {
    const { bytesRead } = await readAt(fd, data, off, size - off, off);
    if (bytesRead === 0) return undefined;
    off += bytesRead;
  }
  return data;
}

/** `buf` itself when its memory can be shared with worker threads, else a shared copy. */
export function shareable(buf: Buffer): Buffer {
  if (buf.buffer instanceof SharedArrayBuffer) return buf;
  const copy = Buffer.from(new SharedArrayBuffer(buf.length));
  buf.copy(copy);
  return copy;
}

export function memorySource(data: Buffer): FileSource {
  return { kind: 'memory', size: data.length, data, close: noop };
}

function diskSource(fd: number, size: number): FileSource {
  let closed = false;
  let reading = 0;
  // The descriptor is closed only once no read is in flight: a number closed under a pending
  // read could be reused by the next open() and the read would return another file's bytes.
  const release = () => {
    if (closed && reading === 0) closeFd(fd);
  };
  return {
    kind: 'disk',
    size,
    async read(offset: number, length: number): Promise<Buffer> {
      const buf = Buffer.allocUnsafe(length);
      let off = 0;
      reading++;
      try {
        while (off < length && !closed) {
          const { bytesRead } = await readAt(fd, buf, off, length - off, offset + off);
          if (bytesRead === 0) break;
          off += bytesRead;
        }
      } finally {
        reading--;
        release();
      }
      // A file truncated under a transfer yields short blocks; the client sees a short file
      // rather than stale bytes.
      return buf.subarray(0, off);
    },
    close: () => {
      if (closed) return;
      closed = true;
      release();
    },
  };
}
