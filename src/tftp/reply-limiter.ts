/**
 * Token buckets for the ERROR packets the listening socket sends (refusals and malformed
 * requests): one per source address and one for everybody. The source of a UDP request can be
 * spoofed, so without a cap the server would send a victim one packet per forged request
 * (reflection). A real client asking for a missing file is far below both rates; pxelinux
 * probing a dozen config files at boot fits in one burst. Pure: the clock is passed in.
 */
export interface ReplyLimits {
  /** Tokens a source regains per second, and its bucket size. */
  perClientPerSecond: number;
  perClientBurst: number;
  /** The same for all sources together. */
  perSecond: number;
  burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Sources remembered at once; a forgotten source starts with a full bucket, the global cap still holds. */
const MAX_TRACKED = 10_000;

export class ReplyLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly global: Bucket;

  constructor(
    private limits: ReplyLimits,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.global = { tokens: limits.burst, at: now() };
  }

  setLimits(limits: ReplyLimits): void {
    this.limits = limits;
  }

  /** Whether one more reply to `source` may be sent now (takes a token from both buckets if so). */
  allow(source: string): boolean {
    const t = this.now();
    const { perClientPerSecond, perClientBurst, perSecond, burst } = this.limits;
    let b = this.buckets.get(source);
    if (b)
      this.buckets.delete(source); // re-inserted below: Map order is least recently used first
    else b = { tokens: perClientBurst, at: t };
    refill(b, t, perClientPerSecond, perClientBurst);
    refill(this.global, t, perSecond, burst);
    const ok = b.tokens >= 1 && this.global.tokens >= 1;
    if (ok) {
      b.tokens--;
      this.global.tokens--;
    }
    this.buckets.set(source, b);
    if (this.buckets.size > MAX_TRACKED) {
      for (const key of this.buckets.keys()) {
        this.buckets.delete(key);
        break;
      }
    }
    return ok;
  }

  get trackedSources(): number {
    return this.buckets.size;
  }
}

function refill(b: Bucket, t: number, perSecond: number, size: number): void {
  b.tokens = Math.min(size, b.tokens + ((t - b.at) / 1000) * perSecond);
  b.at = t;
}
