/**
 * The readable log of a boot storm: one `dhcp.summary` line per second that had traffic, with
 * what happened in it, instead of thousands of per-packet lines (those are rate-capped: see
 * `LogLimiter` in server.ts). Counting is a field increment on the packet path; a 1 s timer
 * (unref'd, so it never keeps the process alive) writes and resets.
 */
import type { Logger } from '../log.js';

export interface SecondCounts {
  discover: number;
  request: number;
  /** DISCOVERs and REQUESTs from a PXE ROM (vendor class PXEClient, not iPXE). */
  pxe: number;
  /** DISCOVERs and REQUESTs from iPXE (user class iPXE or option 175). */
  ipxe: number;
  other: number;
  offer: number;
  ack: number;
  nak: number;
  /** Requests not answered, by policy (reason in gatehouse_dhcp_dropped_total). */
  dropped: number;
  /** DISCOVERs dropped unread by the overload guard. */
  shed: number;
  malformed: number;
}

function zero(): SecondCounts {
  return {
    discover: 0,
    request: 0,
    pxe: 0,
    ipxe: 0,
    other: 0,
    offer: 0,
    ack: 0,
    nak: 0,
    dropped: 0,
    shed: 0,
    malformed: 0,
  };
}

export class DhcpSummary {
  /** The current second's counts: the server increments the fields directly. */
  c: SecondCounts = zero();
  private timer: NodeJS.Timeout | undefined;
  private any = false;

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 1000,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.flush(), this.intervalMs);
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
    this.c = zero();
    this.any = false;
    this.logger.info('dhcp.summary', { periodMs: this.intervalMs, ...c });
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.flush();
  }
}
