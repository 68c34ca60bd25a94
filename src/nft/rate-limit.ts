/**
 * Lets one log line through per `intervalMs` and counts what it held back, so a flood of
 * malformed messages or overruns cannot flood the journal (the count goes in the next line).
 */
export class LogRateLimiter {
  private last = Number.NEGATIVE_INFINITY;
  private suppressed = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Calls `emit(suppressedSinceLast)` when allowed, otherwise counts the event. */
  run(emit: (suppressed: number) => void): void {
    const t = this.now();
    if (t - this.last < this.intervalMs) {
      this.suppressed++;
      return;
    }
    this.last = t;
    const s = this.suppressed;
    this.suppressed = 0;
    emit(s);
  }
}
