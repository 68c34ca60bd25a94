import type { ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import type { Store } from '../store/index.js';
import type { Journal } from './journal.js';
import { encodeMessage, type JournalEntry, type Position, type StreamMessage } from './wire.js';

const CHUNK = 500;

interface FeedStream {
  res: ServerResponse;
  /** Last transaction number sent. */
  cursor: number;
  peer: string;
}

export interface FeedOptions {
  store: Store;
  journal: Journal;
  logger: Logger;
  node: () => string;
  term: () => number;
  /** Tables a snapshot carries. */
  replicatedTables: () => string[];
  heartbeatMs: number;
}

/**
 * The primary's side of replication: streams the journal to a standby from the position it
 * asks for (or a snapshot when this journal no longer holds it or the histories differ), then
 * every transaction as it commits, in commit order, and a heartbeat (lag) in between.
 */
export class ReplicationFeed {
  private readonly streams = new Set<FeedStream>();
  private readonly timer: NodeJS.Timeout;
  snapshotsServed = 0;

  constructor(private readonly opts: FeedOptions) {
    this.timer = setInterval(() => this.heartbeat(), opts.heartbeatMs);
    this.timer.unref();
  }

  get connected(): number {
    return this.streams.size;
  }

  serve(res: ServerResponse, from: Position, peer: string, forceSnapshot: boolean): void {
    const { journal, store } = this.opts;
    res.writeHead(200, { 'Content-Type': 'application/x-ndjson', 'Cache-Control': 'no-store' });
    const stream: FeedStream = { res, cursor: 0, peer };
    const here = journal.position();
    this.send(stream, {
      k: 'hello',
      node: this.opts.node(),
      term: this.opts.term(),
      r: here.r,
      seq: store.lastSeq,
    });
    if (forceSnapshot || !journal.canResume(from)) {
      this.sendSnapshot(stream);
    } else {
      stream.cursor = from.r;
      this.opts.logger.info('ha.feed_resume', { peer, from: from.r, to: here.r });
    }
    if (!this.catchUp(stream)) return;
    this.streams.add(stream);
    res.on('close', () => {
      this.streams.delete(stream);
      this.opts.logger.info('ha.feed_closed', { peer });
    });
  }

  private sendSnapshot(stream: FeedStream): void {
    const { store, journal } = this.opts;
    const image = store.image(this.opts.replicatedTables(), () => journal.position());
    this.send(stream, { k: 'snap', pos: image.extra, tables: image.tables, seq: image.seq });
    for (let i = 0; i < image.rows.length; i += CHUNK)
      this.send(stream, { k: 'rows', rows: image.rows.slice(i, i + CHUNK) });
    for (let i = 0; i < image.changelog.length; i += CHUNK) {
      this.send(stream, { k: 'log', events: image.changelog.slice(i, i + CHUNK) });
    }
    this.send(stream, { k: 'end' });
    stream.cursor = image.extra.r;
    this.snapshotsServed++;
    this.opts.logger.info('ha.feed_snapshot', {
      peer: stream.peer,
      r: image.extra.r,
      rows: image.rows.length,
      seq: image.seq,
    });
  }

  /** Sends what the journal holds beyond the stream's cursor; false when it has a hole. */
  private catchUp(stream: FeedStream): boolean {
    for (;;) {
      const batch = this.opts.journal.entriesAfter(stream.cursor);
      if (batch.length === 0) return true;
      for (const x of batch) {
        if (x.r !== stream.cursor + 1) {
          this.opts.logger.warn('ha.feed_gap', {
            peer: stream.peer,
            expected: stream.cursor + 1,
            found: x.r,
          });
          stream.res.destroy();
          return false;
        }
        this.send(stream, { k: 'tx', x });
        stream.cursor = x.r;
      }
    }
  }

  /** Called after each replicated transaction commits, in commit order. */
  publish(x: JournalEntry): void {
    for (const s of this.streams) {
      if (x.r <= s.cursor) continue;
      if (x.r === s.cursor + 1) {
        this.send(s, { k: 'tx', x });
        s.cursor = x.r;
      } else if (!this.catchUp(s)) {
        this.streams.delete(s);
      }
    }
  }

  private heartbeat(): void {
    const msg: StreamMessage = {
      k: 'hb',
      term: this.opts.term(),
      r: this.opts.journal.position().r,
      seq: this.opts.store.lastSeq,
      ts: Date.now(),
    };
    for (const s of this.streams) this.send(s, msg);
  }

  private send(s: FeedStream, m: StreamMessage): void {
    if (!s.res.destroyed) s.res.write(encodeMessage(m));
  }

  /** Ends every stream (this gateway stopped being primary, or stops). */
  closeAll(): void {
    for (const s of this.streams) s.res.end();
    this.streams.clear();
  }

  stop(): void {
    clearInterval(this.timer);
    this.closeAll();
  }
}
