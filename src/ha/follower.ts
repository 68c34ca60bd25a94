import { Agent, request } from 'undici';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { ChangeEvent, Key, ReplicaImage, Store } from '../store/index.js';
import type { Journal } from './journal.js';
import { decodeMessage, type JournalEntry, LineSplitter, type StreamMessage } from './wire.js';

export interface FollowerOptions {
  store: Store;
  journal: Journal;
  logger: Logger;
  peer: string;
  secret: () => string;
  node: string;
  retryMs: number;
  /** After each applied transaction (metrics, status). */
  onApplied?: (x: JournalEntry) => void;
  /** After a snapshot replaced the replicated tables (every table may have changed). */
  onSnapshot?: (tables: readonly string[]) => void;
  /** A heartbeat or hello from the primary. */
  onPrimary?: (p: { term: number; r: number; node?: string }) => void;
}

class StalePrimary extends Error {}

/**
 * The standby's side: follows the primary's journal, applies each transaction atomically in
 * order (rows, change events under their own sequence numbers, journal entry and position in
 * one store transaction), acknowledges the applied position, and reconnects from it after an
 * error. Entries of a term older than the newest this gateway knows are refused: they come
 * from a primary that has been replaced.
 */
export class Follower {
  private running = false;
  private abort: AbortController | undefined;
  private applyChain: Promise<void> = Promise.resolve();
  private loop: Promise<void> | undefined;
  private forceSnapshot = false;
  private failed = false;
  private acking = false;
  private ackedR = 0;
  private readonly agent = new Agent({ keepAliveTimeout: 10_000 });
  /** Highest transaction number the primary announced. */
  primaryR = 0;
  primaryTerm = 0;
  primaryNode = '';
  connected = false;
  lastLagMs = 0;
  snapshotsTaken = 0;

  constructor(private readonly opts: FollowerOptions) {}

  get peer(): string {
    return this.opts.peer;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops following; resolves once everything received is applied. */
  async stop(): Promise<void> {
    this.running = false;
    this.abort?.abort();
    await this.loop;
    await this.applyChain.catch(() => {});
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.follow();
      } catch (e) {
        if (!this.running) break;
        if (e instanceof StalePrimary)
          this.opts.logger.warn('ha.stale_primary', { peer: this.opts.peer, error: e.message });
        else this.opts.logger.info('ha.follow_interrupted', { peer: this.opts.peer, error: errorMessage(e) });
      }
      this.connected = false;
      await this.applyChain.catch(() => {});
      if (this.running) await new Promise((r) => setTimeout(r, this.opts.retryMs));
    }
  }

  private async follow(): Promise<void> {
    const { journal } = this.opts;
    // Wait for what is queued: the position asked for must be the applied one.
    await this.applyChain.catch(() => {});
    this.applyChain = Promise.resolve();
    this.failed = false;
    this.opts.journal.reload();
    const at = journal.position();
    const url = new URL('/ha/v1/log', this.opts.peer);
    url.searchParams.set('r', String(at.r));
    url.searchParams.set('t', String(at.t));
    url.searchParams.set('n', at.n);
    url.searchParams.set('node', this.opts.node);
    url.searchParams.set('term', String(journal.term));
    if (this.forceSnapshot) url.searchParams.set('snapshot', '1');
    this.abort = new AbortController();
    const res = await request(url, {
      dispatcher: this.agent,
      signal: this.abort.signal,
      headers: { authorization: `Bearer ${this.opts.secret()}` },
      bodyTimeout: 0,
    });
    if (res.statusCode !== 200) {
      const text = await res.body.text();
      throw new Error(`peer answered ${res.statusCode}: ${text.trim()}`);
    }
    this.forceSnapshot = false;
    this.connected = true;
    const lines = new LineSplitter();
    let snap: (ReplicaImage & { pos: JournalEntry | { r: number; t: number; n: string } }) | undefined;
    let failure: Error | undefined;
    res.body.setEncoding('utf8');
    for await (const chunk of res.body as AsyncIterable<string>) {
      for (const line of lines.push(chunk)) {
        const m = decodeMessage(line);
        snap = this.handle(m, snap, (e) => {
          failure ??= e;
          this.abort?.abort();
        });
      }
      if (failure) throw failure;
    }
    if (failure) throw failure;
  }

  private handle(
    m: StreamMessage,
    snap: (ReplicaImage & { pos: { r: number; t: number; n: string } }) | undefined,
    fail: (e: Error) => void,
  ): typeof snap {
    const { journal, store } = this.opts;
    switch (m.k) {
      case 'hello':
      case 'hb': {
        if (m.term < journal.term) {
          fail(new StalePrimary(`the peer is at term ${m.term}, this gateway has seen term ${journal.term}`));
          return snap;
        }
        this.primaryR = m.r;
        this.primaryTerm = m.term;
        // The newest term this gateway has seen: entries of older terms are refused from now on.
        if (m.term > journal.term) void journal.setTerm(m.term);
        if (m.k === 'hello') this.primaryNode = m.node;
        this.opts.onPrimary?.({ term: m.term, r: m.r, ...(m.k === 'hello' ? { node: m.node } : {}) });
        return snap;
      }
      case 'snap':
        return { pos: m.pos, tables: m.tables, rows: [], changelog: [], seq: m.seq };
      case 'rows':
        snap?.rows.push(...(m.rows as Array<[string, Key, unknown]>));
        return snap;
      case 'log':
        snap?.changelog.push(...(m.events as ChangeEvent[]));
        return snap;
      case 'end': {
        if (!snap) return undefined;
        const image = snap;
        this.enqueue(
          () => store.applyImage(image, () => journal.resetTo(image.pos)),
          () => {
            this.snapshotsTaken++;
            this.opts.onSnapshot?.(image.tables);
            this.opts.logger.info('ha.snapshot_applied', {
              r: image.pos.r,
              rows: image.rows.length,
              seq: image.seq,
            });
            this.scheduleAck();
          },
          fail,
        );
        return undefined;
      }
      case 'tx': {
        const x = m.x;
        if (x.t < journal.term) {
          fail(new StalePrimary(`transaction ${x.r} has term ${x.t}, older than term ${journal.term}`));
          return snap;
        }
        this.enqueue(
          () =>
            store.applyReplicated(
              { writes: x.w, events: x.e },
              () => {
                journal.append(x);
                journal.putTermInTx(x.t);
              },
              () => {
                // In the transaction, before any write: the position of the one before it.
                const at = journal.position();
                if (x.r !== at.r + 1) {
                  this.forceSnapshot = true;
                  throw new Error(`transaction ${x.r} does not follow ${at.r}`);
                }
              },
            ),
          () => {
            this.lastLagMs = Math.max(0, Date.now() - x.ts);
            this.opts.onApplied?.(x);
            this.scheduleAck();
          },
          fail,
        );
        return snap;
      }
    }
  }

  /**
   * Starts applying at once — the store runs transactions in call order and commits several
   * at a time, which is what lets a standby keep up with a busy primary — and runs `done` in
   * order once each has committed.
   */
  private enqueue(apply: () => Promise<void>, done: () => void, fail: (e: Error) => void): void {
    if (this.failed) return;
    const applying = apply();
    applying.catch(() => {});
    // Once one entry fails the chain stays rejected: later entries of this stream must not apply.
    this.applyChain = this.applyChain.then(() => applying).then(done, (e: unknown) => {
      const err = e instanceof Error ? e : new Error(String(e));
      if (!this.failed) {
        this.failed = true;
        if ((e as { code?: string }).code === 'GH_HA_DIVERGED') this.forceSnapshot = true;
        this.opts.journal.reload();
        this.opts.logger.warn('ha.apply_failed', { error: err.message, snapshotNext: this.forceSnapshot });
        fail(err);
      }
      throw err;
    });
    this.applyChain.catch(() => {});
  }

  /** Tells the primary the applied position; one request in flight, coalescing. */
  private scheduleAck(): void {
    if (this.acking) return;
    const pos = this.opts.journal.position();
    if (pos.r <= this.ackedR && this.ackedR !== 0) return;
    this.acking = true;
    const url = new URL('/ha/v1/ack', this.opts.peer);
    request(url, {
      method: 'POST',
      dispatcher: this.agent,
      headers: { authorization: `Bearer ${this.opts.secret()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ node: this.opts.node, r: pos.r, t: pos.t, n: pos.n }),
    })
      .then(async (res) => {
        await res.body.dump();
        if (res.statusCode === 200) this.ackedR = pos.r;
      })
      .catch(() => {})
      .finally(() => {
        this.acking = false;
        if (this.opts.journal.position().r > this.ackedR && this.running) this.scheduleAck();
      });
  }

  async close(): Promise<void> {
    await this.stop();
    await this.agent.close();
  }
}
