import fs from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';

export interface ConnectionLogFileOptions {
  path: string;
  maxBytes: number;
  keep: number;
  logger: Logger;
  /** Most bytes held in memory while the disk is slow; beyond, lines are counted as dropped. */
  maxPendingBytes?: number;
}

/**
 * The append-only connection log (legal accountability, spec §11.3): lines are queued and
 * written by one async writer, so producers never wait on the disk; the file is rotated to
 * `<path>.1` … `<path>.<keep>` before it would exceed `maxBytes`.
 */
export class ConnectionLogFile {
  readonly stats = { lines: 0, bytes: 0, rotations: 0, writeErrors: 0, dropped: 0 };
  private pending: string[] = [];
  private pendingBytes = 0;
  private fh: fs.promises.FileHandle | undefined;
  private size = 0;
  private writing: Promise<void> | undefined;
  private closed = false;
  private readonly maxPending: number;

  constructor(private readonly opts: ConnectionLogFileOptions) {
    this.maxPending = opts.maxPendingBytes ?? 64 * 1024 * 1024;
  }

  get file(): string {
    return this.opts.path;
  }

  /** Queues one line (without newline). Never throws, never blocks. */
  append(line: string): void {
    if (this.closed) return;
    const text = `${line.replace(/\n/g, ' ')}\n`;
    if (this.pendingBytes + text.length > this.maxPending) {
      this.stats.dropped++;
      return;
    }
    this.pending.push(text);
    this.pendingBytes += text.length;
    if (!this.writing) this.writing = this.drain().finally(() => (this.writing = undefined));
  }

  /** Resolves when everything appended so far is written. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private async open(): Promise<fs.promises.FileHandle> {
    if (this.fh) return this.fh;
    await fs.promises.mkdir(path.dirname(this.opts.path), { recursive: true });
    const fh = await fs.promises.open(this.opts.path, 'a', 0o640);
    this.size = (await fh.stat()).size;
    this.fh = fh;
    return fh;
  }

  private async rotate(): Promise<void> {
    await this.fh?.close();
    this.fh = undefined;
    const p = this.opts.path;
    await fs.promises.rm(`${p}.${this.opts.keep}`, { force: true });
    for (let i = this.opts.keep - 1; i >= 1; i--) {
      await fs.promises.rename(`${p}.${i}`, `${p}.${i + 1}`).catch(() => {});
    }
    await fs.promises.rename(p, `${p}.1`).catch(() => {});
    this.stats.rotations++;
  }

  private async drain(): Promise<void> {
    while (this.pending.length > 0) {
      const lines = this.pending;
      this.pending = [];
      this.pendingBytes = 0;
      try {
        let piece: string[] = [];
        let pieceBytes = 0;
        const writePiece = async () => {
          if (piece.length === 0) return;
          const fh = await this.open();
          const buf = Buffer.from(piece.join(''), 'utf8');
          await fh.write(buf);
          this.size += buf.length;
          this.stats.bytes += buf.length;
          this.stats.lines += piece.length;
          piece = [];
          pieceBytes = 0;
        };
        await this.open();
        for (const l of lines) {
          const n = Buffer.byteLength(l);
          if (this.size + pieceBytes + n > this.opts.maxBytes && this.size + pieceBytes > 0) {
            await writePiece();
            if (this.size > 0) {
              await this.rotate();
              await this.open();
            }
          }
          piece.push(l);
          pieceBytes += n;
        }
        await writePiece();
      } catch (e) {
        this.stats.writeErrors++;
        this.stats.dropped += lines.length;
        this.opts.logger.error('connlog.write_failed', {
          file: this.opts.path,
          error: errorMessage(e),
          lines: lines.length,
        });
        await this.fh?.close().catch(() => {});
        this.fh = undefined;
      }
    }
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    await this.fh?.close().catch(() => {});
    this.fh = undefined;
  }
}
