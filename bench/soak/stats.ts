/** Latency and outcome of every request of one kind of traffic. */
export class Kind {
  count = 0;
  failed = 0;
  slow = 0;
  maxMs = 0;
  private readonly ms: number[] = [];
  /** A few failure reasons, for the report. */
  readonly reasons = new Map<string, number>();

  constructor(
    readonly name: string,
    /** Hostile traffic: answers are not required and latency is not judged. */
    readonly hostile = false,
  ) {}

  ok(ms: number): void {
    this.count++;
    if (this.ms.length < 200_000) this.ms.push(ms);
    this.maxMs = Math.max(this.maxMs, ms);
    if (ms > 1000) this.slow++;
  }

  fail(reason: string): void {
    this.count++;
    this.failed++;
    this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + 1);
  }

  /** Times `fn`; a throw counts as a failure with its message. */
  async time(fn: () => Promise<unknown>): Promise<void> {
    const t0 = performance.now();
    try {
      await fn();
      this.ok(performance.now() - t0);
    } catch (e) {
      this.fail(e instanceof Error ? e.message.slice(0, 80) : String(e));
    }
  }

  percentile(p: number): number {
    if (this.ms.length === 0) return 0;
    const sorted = [...this.ms].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
  }
}

export class Registry {
  readonly kinds = new Map<string, Kind>();
  kind(name: string, hostile = false): Kind {
    let k = this.kinds.get(name);
    if (!k) {
      k = new Kind(name, hostile);
      this.kinds.set(name, k);
    }
    return k;
  }
}

/** Calls `fn` every `ms` (not waiting for it; a request in flight does not delay the next). */
export function every(ms: number, fn: () => unknown): () => void {
  const timer = setInterval(() => void fn(), ms);
  return () => clearInterval(timer);
}
