import type { ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { pyJsonDumps } from '../rpc/pyjson.js';
import {
  type SyncKey,
  type SyncMeta,
  type SyncRecord,
  type SyncUpdate,
  applyUpdates,
  itemsToUpdates,
} from './updates.js';

/** A message of the change log, for the `?since=` resume extension. */
export interface SeqMessage {
  seq: number;
  updates: SyncUpdate[];
}

export interface SyncHubOptions {
  /** Primary-key field of the records (`mac`, `login`). */
  pk: string;
  /** Feed name for logs and metrics (`mdbsync`, `udbsync`, `presencesync`). */
  name: string;
  logger: Logger;
  metrics: Metrics;
  /** New subscribers beyond this get 503 (http.maxStreamsPerFeed). */
  maxStreams?: number;
  /**
   * Bytes a subscriber may leave unread (Node's socket and response buffers) beyond its
   * snapshot; past that it is disconnected and counted, so a reader that never reads cannot
   * grow the server's memory for ever.
   */
  maxBufferedBytes?: number;
  /** Called before a snapshot is taken (presence expires stale sessions there). */
  beforeSnapshot?: () => void;
  /**
   * Messages with `since < seq <= upTo`, or undefined when the owner's change log no longer
   * holds them (the subscriber then gets a full snapshot). Without it `?since=` is ignored.
   */
  resume?: (since: number, upTo: number) => SeqMessage[] | undefined;
}

export interface AttachOptions {
  /** `?since=`: resume after this sequence number instead of sending a snapshot. */
  since?: number;
  /** `?seq=1`: every line is `{"seq": N, "updates": [...]}` instead of the bare list. */
  seqMode?: boolean;
}

interface Subscriber {
  res: ServerResponse;
  seqMode: boolean;
  /** writableLength past which the subscriber is dropped. */
  limit: number;
}

export const SEQ_HEADER = 'X-Gatehouse-Seq';
export const RESUMED_HEADER = 'X-Gatehouse-Resumed';

/**
 * The server side of the synchronisation protocol (spec §1.4): a backlog keyed by primary key
 * (insertion order kept, like the original dict), and `/poll` subscribers that get the whole
 * backlog as their first line, then every published message as one line, written and flushed
 * at once. Publishing applies the message to the backlog and broadcasts it unchanged.
 *
 * Extension: the hub carries the owner's sequence number (`X-Gatehouse-Seq`); a subscriber
 * that passes `?since=N` gets only the messages after N when the owner's change log still
 * holds them. Messages published without a sequence number (external `/update` pushes) are
 * not in any log, so a resume from before one of them falls back to a snapshot.
 */
export class SyncHub {
  readonly pk: string;
  readonly name: string;
  private backlog = new Map<SyncKey, SyncRecord>();
  private readonly subscribers = new Set<Subscriber>();
  private snapshotText: string | undefined;
  private seqValue = 0;
  /** Sequence number current when the last unsequenced message was published (-1: none). */
  private unsequencedAt = -1;
  private closed = false;
  private readonly maxStreams: number;
  private readonly maxBuffered: number;
  private readonly m;

  constructor(private readonly opts: SyncHubOptions) {
    this.pk = opts.pk;
    this.name = opts.name;
    this.maxStreams = opts.maxStreams ?? 2000;
    this.maxBuffered = opts.maxBufferedBytes ?? 8 * 1024 * 1024;
    const feed = ['feed'] as const;
    this.m = {
      subscribers: opts.metrics.gauge('gatehouse_sync_subscribers', 'Connected /poll subscribers', feed),
      messages: opts.metrics.counter(
        'gatehouse_sync_messages_total',
        'Messages broadcast to subscribers',
        feed,
      ),
      snapshots: opts.metrics.counter(
        'gatehouse_sync_snapshots_total',
        'Full snapshots sent to new subscribers',
        feed,
      ),
      dropped: opts.metrics.counter(
        'gatehouse_sync_slow_subscribers_dropped_total',
        'Subscribers disconnected because they left too much unread',
        feed,
      ),
      refused: opts.metrics.counter(
        'gatehouse_sync_streams_refused_total',
        'New subscribers refused (too many streams)',
        feed,
      ),
      resumes: opts.metrics.counter(
        'gatehouse_sync_resumes_total',
        'Subscriptions with ?since=, by outcome',
        ['feed', 'outcome'],
      ),
    };
    this.m.subscribers.set({ feed: this.name }, 0);
  }

  /** Sequence number of the last message delivered (0 when the owner has none). */
  get seq(): number {
    return this.seqValue;
  }

  /** Moves the sequence number forward for changes that concern no record of this feed. */
  advanceSeq(seq: number): void {
    if (seq > this.seqValue) this.seqValue = seq;
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** Replaces the backlog without broadcasting (start-up: the owner's current records). */
  replaceAll(records: Iterable<SyncRecord>, seq?: number): void {
    this.backlog = new Map();
    applyUpdates(this.pk, this.backlog, itemsToUpdates(records));
    this.snapshotText = undefined;
    if (seq !== undefined) this.seqValue = seq;
  }

  /**
   * Applies `updates` to the backlog and sends them, unchanged, to every subscriber. `seq` is
   * the owner's sequence number for this message; omit it for messages that are in no change
   * log (external `/update` pushes).
   */
  publish(updates: readonly SyncUpdate[], seq?: number): Map<SyncKey, SyncMeta> {
    const meta = applyUpdates(this.pk, this.backlog, updates, null, (why) =>
      this.opts.logger.warn('sync.update_ignored', { feed: this.name, why }),
    );
    this.snapshotText = undefined;
    if (seq !== undefined) this.advanceSeq(seq);
    else this.unsequencedAt = this.seqValue;
    this.broadcast(pyJsonDumps(updates, { strict: false }));
    return meta;
  }

  /** Current records in backlog order. */
  records(): SyncRecord[] {
    return [...this.backlog.values()];
  }

  get(key: SyncKey): SyncRecord | undefined {
    return this.backlog.get(key);
  }

  /** The first line a new subscriber gets: every record as an update, in backlog order. */
  snapshot(): SyncUpdate[] {
    return itemsToUpdates(this.backlog.values());
  }

  private snapshotJson(): string {
    this.snapshotText ??= pyJsonDumps(this.snapshot(), { strict: false });
    return this.snapshotText;
  }

  private line(listJson: string, seqMode: boolean, seq: number): string {
    return seqMode ? `{"seq": ${seq}, "updates": ${listJson}}\n` : `${listJson}\n`;
  }

  private broadcast(listJson: string): void {
    this.m.messages.inc({ feed: this.name });
    const plain = this.line(listJson, false, this.seqValue);
    const withSeq = this.line(listJson, true, this.seqValue);
    for (const sub of this.subscribers) this.write(sub, sub.seqMode ? withSeq : plain);
  }

  private write(sub: Subscriber, text: string): void {
    if (sub.res.destroyed) {
      this.detach(sub);
      return;
    }
    sub.res.write(text);
    if (sub.res.writableLength > sub.limit) {
      this.m.dropped.inc({ feed: this.name });
      this.opts.logger.warn('sync.slow_subscriber_dropped', {
        feed: this.name,
        unread: sub.res.writableLength,
        peer: sub.res.socket?.remoteAddress,
      });
      this.detach(sub);
      sub.res.destroy();
    }
  }

  private detach(sub: Subscriber): void {
    if (this.subscribers.delete(sub)) this.m.subscribers.set({ feed: this.name }, this.subscribers.size);
  }

  /** Whether a new stream may be opened (checked before headers are sent). */
  get full(): boolean {
    return this.subscribers.size >= this.maxStreams;
  }

  /**
   * Starts a `/poll` stream on `res`: headers, then the snapshot (or the resumed messages),
   * then every later message. Synchronous from the first line to joining the subscriber set,
   * so no message can fall between the snapshot and the live stream.
   */
  attach(res: ServerResponse, opts: AttachOptions = {}): void {
    if (this.closed) {
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8' }).end('shutting down\n');
      return;
    }
    if (this.full) {
      this.m.refused.inc({ feed: this.name });
      this.opts.logger.warn('sync.too_many_streams', { feed: this.name, max: this.maxStreams });
      res
        .writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': '2' })
        .end('too many subscribers\n');
      return;
    }
    this.opts.beforeSnapshot?.();
    const seqMode = opts.seqMode ?? false;
    let resumed: SeqMessage[] | undefined;
    if (opts.since !== undefined) {
      resumed = this.resumeFrom(opts.since);
      this.m.resumes.inc({ feed: this.name, outcome: resumed ? 'resumed' : 'snapshot' });
    }
    // Original: Tornado's default content type; consumers ignore it.
    res.writeHead(200, {
      'Content-Type': 'text/html; charset=UTF-8',
      'Cache-Control': 'no-cache',
      [SEQ_HEADER]: String(this.seqValue),
      ...(opts.since !== undefined ? { [RESUMED_HEADER]: resumed ? 'true' : 'false' } : {}),
    });
    res.socket?.setNoDelay(true);
    let first = '';
    if (resumed) {
      for (const msg of resumed) first += this.line(pyJsonDumps(msg.updates, { strict: false }), seqMode, msg.seq);
    } else {
      first = this.line(this.snapshotJson(), seqMode, this.seqValue);
      this.m.snapshots.inc({ feed: this.name });
    }
    if (first) res.write(first);
    else res.flushHeaders();
    const sub: Subscriber = { res, seqMode, limit: this.maxBuffered + Buffer.byteLength(first) };
    this.subscribers.add(sub);
    this.m.subscribers.set({ feed: this.name }, this.subscribers.size);
    res.on('close', () => this.detach(sub));
  }

  private resumeFrom(since: number): SeqMessage[] | undefined {
    if (!this.opts.resume || !Number.isSafeInteger(since) || since < 0) return undefined;
    if (since > this.seqValue || since <= this.unsequencedAt) return undefined;
    return this.opts.resume(since, this.seqValue);
  }

  /** Ends every stream (shutdown). */
  close(): void {
    this.closed = true;
    for (const sub of this.subscribers) sub.res.end();
    this.subscribers.clear();
    this.m.subscribers.set({ feed: this.name }, 0);
  }
}
