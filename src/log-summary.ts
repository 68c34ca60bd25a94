/**
 * One summary line per period (1 s) that had events, instead of a line per event: what a storm's
 * log needs (issue 13). The owner increments the fields of `c` directly on its hot path (a field
 * increment) and calls `touch()`; an unref'd timer writes `event` with the counts and resets
 * them. DHCP (`dhcp.summary`), TFTP (`tftp.summary`) and netboot (`netboot.summary`) use it.
 */
import type { Logger } from './log.js';

export class PeriodSummary<C extends Record<string, number>> {
  /** The current period's counts. */
  c: C;
  private timer: NodeJS.Timeout | undefined;
  private any = false;

  constructor(
    private readonly logger: Logger,
    private readonly event: string,
    private readonly zero: () => C,
    private readonly periodMs = 1000,
  ) {
    this.c = zero();
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.flush(), this.periodMs);
    this.timer.unref();
  }

  /** Something was counted (cheaper than comparing every field on each tick). */
  touch(): void {
    this.any = true;
  }

  /** Writes the line for the counts so far, if any, and starts a new period. */
  flush(): void {
    if (!this.any) return;
    const c = this.c;
    this.c = this.zero();
    this.any = false;
    this.logger.info(this.event, { periodMs: this.periodMs, ...c });
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.flush();
  }
}
