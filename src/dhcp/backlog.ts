/**
 * How long requests wait in a socket's receive queue, estimated without packet timestamps
 * (raw-socket has no recvmsg, so no SO_TIMESTAMP): queued bytes (SO_MEMINFO) / bytes per
 * packet / packets per millisecond we manage while backlogged. No I/O, no clock of its own.
 *
 * Why: a boot storm needs a large receive buffer (the ROMs retry only after 4 s), but under
 * sustained overload (a flood, or a starved CPU) a large FIFO turns into seconds of standing
 * queue, every answer arrives after the client gave up, and useful throughput collapses
 * (measured: perfdhcp at 40k/s got 20 answers/s). Dropping from the head once the estimated
 * wait exceeds a bound keeps the answers fresh (the CoDel idea, with a fixed target).
 */
/** A backlog whose estimated wait fell below this share of its start is draining. */
const DRAINING = 0.9;
/** Shedding ends after this long without a full batch. */
const CALM_MS = 1000;

export class BacklogEstimator {
  /** Kernel memory per queued datagram (skb truesize); learned from the smallest queue seen. */
  private truesize = 1280;
  private calibrated = false;
  /** Packets per millisecond handled while backlogged (EWMA); 0 until measured. */
  private rate = 0;
  private lastBusyStart = -1;
  /** Shedding state: entered on a sustained backlog (`shouldShed`), left after a calm second. */
  private shedding = false;
  private calmSince = -1;
  /** Start of the current stretch of estimated waits above the bound, and the wait then. */
  private aboveSince = -1;
  private aboveDelay = 0;

  /**
   * A wakeup found `queuedBytes` waiting and handled `packets` datagrams; `full` when the batch
   * limit stopped it (the socket is backlogged). The smallest non-empty queue seen is one
   * datagram, which gives the truesize.
   */
  observe(now: number, queuedBytes: number, packets: number, full: boolean): void {
    if (queuedBytes > 0) {
      this.truesize = this.calibrated ? Math.min(this.truesize, queuedBytes) : Math.min(queuedBytes, 65536);
      this.truesize = Math.max(this.truesize, 256);
      this.calibrated = true;
    }
    if (full) this.calmSince = -1;
    else if (this.calmSince < 0) this.calmSince = now;
    else if (now - this.calmSince > CALM_MS) this.shedding = false;
    if (full) {
      if (this.lastBusyStart >= 0 && now > this.lastBusyStart) {
        const r = packets / (now - this.lastBusyStart);
        this.rate = this.rate === 0 ? r : this.rate * 0.8 + r * 0.2;
      }
      this.lastBusyStart = now;
    } else {
      this.lastBusyStart = -1;
    }
  }

  /**
   * Whether to drop from the head now: the estimated wait exceeds `targetMs` and the backlog is
   * an overload, not a burst being worked off. A burst (a boot storm: every machine's DISCOVER at
   * once) shrinks from wakeup to wakeup even when the server is slow; a flood or a starved CPU
   * does not. So shedding starts only once the wait has stayed above the bound for `targetMs`
   * without falling by a tenth, and then goes on (whenever the wait exceeds the bound) until a
   * calm second. Why: measured in bench/bootstorm (issue 13), the first storm after a start was
   * read by cold code at ~1 packet/ms for its first batches; judged on that, the 1000 queued
   * DISCOVERs were "1251 ms" long and 800 were shed, though the queue was draining and the
   * ROMs would have waited 4 s.
   */
  shouldShed(now: number, queuedBytes: number, targetMs: number): boolean {
    const d = this.delayMs(queuedBytes);
    if (d <= targetMs) {
      this.aboveSince = -1;
      return false;
    }
    if (this.shedding) return true;
    if (this.aboveSince < 0 || d < this.aboveDelay * DRAINING) {
      // A new stretch, or the queue fell by a tenth since this one began: a burst being worked off.
      this.aboveSince = now;
      this.aboveDelay = d;
      return false;
    }
    if (now - this.aboveSince < targetMs) return false;
    this.shedding = true;
    return true;
  }

  /**
   * Moves the calm stretch's start back by `ms` (the warm-up: the end of a calm second runs
   * too; V8 deoptimises code that read a field only ever written once when it is written again).
   */
  age(ms: number): void {
    if (this.calmSince >= 0) this.calmSince -= ms;
  }

  /** In the shedding state (the receive buffer may shrink, see transport.ts). */
  get overloaded(): boolean {
    return this.shedding;
  }

  /** Estimated wait of the newest queued packet, ms (0 while the rate is unknown). */
  delayMs(queuedBytes: number): number {
    if (this.rate <= 0) return 0;
    return queuedBytes / this.truesize / this.rate;
  }

  /** How many packets to drop from the head so the estimated wait falls to `targetMs`. */
  excess(queuedBytes: number, targetMs: number): number {
    if (this.rate <= 0) return 0;
    const queued = queuedBytes / this.truesize;
    return Math.max(0, Math.floor(queued - targetMs * this.rate));
  }

  /** Datagrams in `queuedBytes` (at least 1 when any byte is queued). */
  packetsIn(queuedBytes: number): number {
    return queuedBytes <= 0 ? 0 : Math.max(1, Math.round(queuedBytes / this.truesize));
  }

  /** The measured rate while backlogged (0 until measured). */
  get packetsPerMs(): number {
    return this.rate;
  }

  get packetBytes(): number {
    return this.truesize;
  }
}
