/**
 * Synchronous replication's bookkeeping on the primary: writers wait until the standby has
 * acknowledged their transaction, at most `timeoutMs`; a timeout degrades replication to
 * asynchronous until the standby has acknowledged everything again.
 */
export class SyncWaiter {
  private waiters: Array<{ r: number; resolve: () => void; timer: NodeJS.Timeout }> = [];
  ackedR = 0;
  degraded = false;
  degradations = 0;

  constructor(
    private timeoutMs: number,
    private readonly onChange: (degraded: boolean, why: string) => void,
  ) {}

  setTimeoutMs(ms: number): void {
    this.timeoutMs = ms;
  }

  /** A promise that resolves when `r` is acknowledged or the wait times out. */
  wait(r: number): Promise<void> {
    if (this.ackedR >= r) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.degrade(`the standby did not acknowledge transaction ${r} within ${this.timeoutMs} ms`);
      }, this.timeoutMs);
      this.waiters.push({ r, resolve, timer });
    });
  }

  ack(r: number, lastR: number): void {
    if (r > this.ackedR) this.ackedR = r;
    const still: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (w.r <= this.ackedR) {
        clearTimeout(w.timer);
        w.resolve();
      } else still.push(w);
    }
    this.waiters = still;
    if (this.degraded && this.ackedR >= lastR) {
      this.degraded = false;
      this.onChange(false, `the standby caught up at transaction ${this.ackedR}`);
    }
  }

  /** Releases every writer and answers at commit from now on. */
  degrade(why: string): void {
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.resolve();
    }
    this.waiters = [];
    if (!this.degraded) {
      this.degraded = true;
      this.degradations++;
      this.onChange(true, why);
    }
  }
}
