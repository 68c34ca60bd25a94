import type { LogFields, Logger } from '../log.js';

/**
 * Caps how many lines a flood can write: at most `burst` lines per `windowMs` per event name,
 * then one `tftp.log_suppressed` line (or the given event name) with the count when the window turns over. Used for what a
 * hostile client controls (malformed packets, refused and never-acknowledged requests).
 */
export class LogLimiter {
  private readonly windows = new Map<string, { start: number; lines: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly burst = 20,
    private readonly windowMs = 10_000,
    private readonly now: () => number = () => performance.now(),
    private readonly suppressedEvent = 'tftp.log_suppressed',
  ) {}

  log(level: 'debug' | 'info' | 'warn', event: string, fields: LogFields): void {
    const t = this.now();
    let w = this.windows.get(event);
    if (!w || t - w.start >= this.windowMs) {
      if (w && w.suppressed > 0)
        this.logger.warn(this.suppressedEvent, { suppressedEvent: event, count: w.suppressed });
      w = { start: t, lines: 0, suppressed: 0 };
      this.windows.set(event, w);
    }
    if (w.lines < this.burst) {
      w.lines++;
      this.logger[level](event, fields);
    } else {
      w.suppressed++;
    }
  }
}
