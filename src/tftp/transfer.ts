/**
 * One read transfer as a state machine, with no sockets and no clock of its own: the server feeds
 * it ACKs and timer expiries with the current time and performs the sends it returns.
 *
 * Blocks are numbered internally from 1 without limit; on the wire the number is the low 16 bits,
 * so block 65536 goes out as 0 (the wrap tftp-hpa, atftp and curl expect). With a window of W
 * blocks (RFC 7440) an ACK names at most one block in flight as long as W < 65536.
 *
 * Sorcerer's apprentice (RFC 1350 erratum, RFC 1123 §4.2.3.1): a duplicate ACK that crossed our
 * own retransmission must not trigger another one, or every delayed duplicate doubles the
 * traffic for the rest of the transfer. But a duplicate ACK that arrives long after the window
 * was last sent is the client's own timeout re-acknowledging (RFC 1350 §2: "the sender of the
 * last ACK retransmits it"): the DATA after it was lost. Ignoring those left recovery to our
 * backoff timer alone (1, 2, 4, 8 s): under 3 % loss, a block lost three times in a row stalled a
 * transfer for 7 s while the client re-acknowledged every second and gave up (issue 13). So a
 * duplicate ACK retransmits the window once it was last sent at least `dupAckHoldoffMs` ago: a
 * crossing duplicate arrives within a round trip of our send and is still ignored, and at most
 * one window goes out per holdoff, so duplicates can never multiply.
 */

export interface TransferParams {
  /** Bytes to send (after netascii conversion). */
  size: number;
  blksize: number;
  windowsize: number;
  /** First retransmission interval. */
  timeoutMs: number;
  /** Backoff ceiling; the interval doubles after each timeout up to max(2 * timeoutMs, this). */
  maxTimeoutMs: number;
  /** Timeouts in a row before giving up. */
  retries: number;
  /** True when an OACK must be acknowledged (ACK 0) before DATA 1. */
  oack: boolean;
}

/**
 * A duplicate ACK retransmits only when the window went out at least this long ago (and never
 * sooner than half the first interval): far above a LAN round trip, below every client's timer.
 */
export function dupAckHoldoffMs(timeoutMs: number): number {
  return Math.min(200, timeoutMs / 2);
}

/** Blocks `from..to` (internal numbers, inclusive), or the OACK. */
export type SendAction = { kind: 'oack' } | { kind: 'data'; from: number; to: number };

export type StepResult =
  | { kind: 'send'; send: SendAction }
  | { kind: 'done' }
  | { kind: 'gave-up' }
  /** Nothing to do: duplicate, stale or out-of-window ACK. */
  | { kind: 'ignore' };

export class TransferState {
  readonly totalBlocks: number;
  /** Highest block acknowledged; 0 before any (or when only the OACK was acknowledged). */
  lastAcked = 0;
  /** Highest block sent so far. */
  lastSent = 0;
  /** Waiting for ACK 0 of the OACK. */
  awaitingOack: boolean;
  /** True once the client has acknowledged anything: it exists and answers. */
  confirmed = false;
  finished = false;
  /** Absolute time (ms, server clock) of the next retransmission. */
  deadline = Number.POSITIVE_INFINITY;
  retransmittedBlocks = 0;
  /** Of those, sent because the client re-acknowledged (its timer) rather than by ours. */
  dupAckRetransmits = 0;
  /** When the current window (or the OACK) was last sent. */
  private lastSendAt = Number.NEGATIVE_INFINITY;
  private interval: number;
  private timeoutsInARow = 0;

  constructor(readonly p: TransferParams) {
    // A file whose size is a multiple of blksize ends with an empty block (RFC 1350 §6).
    this.totalBlocks = Math.floor(p.size / p.blksize) + 1;
    this.awaitingOack = p.oack;
    this.interval = p.timeoutMs;
  }

  start(now: number): StepResult {
    this.deadline = now + this.interval;
    this.lastSendAt = now;
    if (this.awaitingOack) return { kind: 'send', send: { kind: 'oack' } };
    return { kind: 'send', send: this.window() };
  }

  /** Byte range of an internal block number. */
  blockRange(block: number): { start: number; end: number } {
    const start = (block - 1) * this.p.blksize;
    return { start, end: Math.min(start + this.p.blksize, this.p.size) };
  }

  /** Payload bytes acknowledged so far. */
  get bytesAcked(): number {
    return this.lastAcked === 0 ? 0 : this.blockRange(this.lastAcked).end;
  }

  onAck(wireBlock: number, now: number): StepResult {
    if (this.finished) return { kind: 'ignore' };
    if (this.awaitingOack) {
      if (wireBlock !== 0) return { kind: 'ignore' };
      this.awaitingOack = false;
      this.lastSendAt = now;
      this.confirmed = true;
      this.progress(now);
      return { kind: 'send', send: this.window() };
    }
    const acked = this.resolve(wireBlock);
    if (acked === undefined) return this.onDuplicate(wireBlock, now);
    this.confirmed = true;
    this.lastAcked = acked;
    this.lastSendAt = now;
    if (acked === this.totalBlocks) {
      this.finished = true;
      this.deadline = Number.POSITIVE_INFINITY;
      return { kind: 'done' };
    }
    this.progress(now);
    // A full-window ACK slides the window; an ACK inside it (RFC 7440 §4: the client saw a gap
    // or timed out) restarts from the block after it, i.e. go-back-N.
    return { kind: 'send', send: this.window() };
  }

  onTimeout(now: number): StepResult {
    if (this.finished) return { kind: 'ignore' };
    if (this.timeoutsInARow >= this.p.retries) {
      this.finished = true;
      this.deadline = Number.POSITIVE_INFINITY;
      return { kind: 'gave-up' };
    }
    this.timeoutsInARow++;
    // The interval must be able to outgrow the client's own timer: atftp re-acknowledges a
    // repeated block only once and restarts its timer on every packet it ignores, so a server
    // retransmitting faster than the client's timeout would keep it silent until we give up.
    this.interval = Math.min(this.interval * 2, Math.max(2 * this.p.timeoutMs, this.p.maxTimeoutMs));
    this.deadline = now + this.interval;
    this.lastSendAt = now;
    if (this.awaitingOack) return { kind: 'send', send: { kind: 'oack' } };
    const send = this.window();
    this.retransmittedBlocks += send.to - send.from + 1;
    return { kind: 'send', send };
  }

  /**
   * An ACK of the block already acknowledged (see the module comment). Only the last
   * acknowledged block counts (ACK 0 for the OACK's): an older one is stale, not a re-ACK.
   */
  private onDuplicate(wireBlock: number, now: number): StepResult {
    if (wireBlock !== (this.lastAcked & 0xffff)) return { kind: 'ignore' };
    if (now - this.lastSendAt < dupAckHoldoffMs(this.p.timeoutMs)) return { kind: 'ignore' };
    this.lastSendAt = now;
    // Our own timer restarts from this send (same interval: no backoff, the client is alive);
    // the retry budget is not refilled, since nothing progressed.
    this.deadline = now + this.interval;
    const send = this.window();
    const blocks = send.to - send.from + 1;
    this.retransmittedBlocks += blocks;
    this.dupAckRetransmits += blocks;
    return { kind: 'send', send };
  }

  /** Wire block number (16 bits) of an internal block number. */
  static wire(block: number): number {
    return block & 0xffff;
  }

  /** The internal block in (lastAcked, lastSent] whose wire number is `wireBlock`, if any. */
  private resolve(wireBlock: number): number | undefined {
    const ahead = (wireBlock - (this.lastAcked & 0xffff) + 0x10000) & 0xffff;
    if (ahead === 0) return undefined; // duplicate of what is already acknowledged
    const block = this.lastAcked + ahead;
    return block <= this.lastSent ? block : undefined;
  }

  private progress(now: number): void {
    this.timeoutsInARow = 0;
    this.interval = this.p.timeoutMs;
    this.deadline = now + this.interval;
  }

  private window(): { kind: 'data'; from: number; to: number } {
    const from = this.lastAcked + 1;
    const to = Math.min(this.lastAcked + this.p.windowsize, this.totalBlocks);
    if (to > this.lastSent) this.lastSent = to;
    return { kind: 'data', from, to };
  }
}
