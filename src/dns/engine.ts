import type { Logger } from '../log.js';
import { type AnswerPolicy, type TransferRequest, answerFast, answerSlow } from './answer.js';
import { clientIpv4 } from './cidr.js';
import type { Forwarder } from './forwarder.js';
import type { Snapshot } from './snapshot.js';
import { DnsStats } from './stats.js';

export type EngineResult = Buffer | undefined | Promise<Buffer | undefined> | { transfer: TransferRequest };

/**
 * What a socket calls per message: the current snapshot and policy (swapped by reference),
 * the forwarder, counters, and rate-limited logging of malformed input. Shared by the UDP and
 * TCP servers and by cluster workers; never throws.
 */
export class DnsEngine {
  readonly stats = new DnsStats();
  private readonly ipCache = new Map<string, number | undefined>();
  private readonly malformedLog: RateLimitedLog;

  constructor(
    public snapshot: Snapshot,
    public policy: AnswerPolicy,
    public forwarder: Forwarder | undefined,
    private readonly logger: Logger,
  ) {
    this.malformedLog = new RateLimitedLog(logger, 'dns.malformed', 10_000);
  }

  private lastAddress = '';
  private lastIp: number | undefined;

  private ip(address: string): number | undefined {
    // Clients send bursts: a one-entry cache in front of the map saves most hash lookups.
    if (address === this.lastAddress) return this.lastIp;
    let ip = this.ipCache.get(address);
    if (ip === undefined && !this.ipCache.has(address)) {
      ip = clientIpv4(address);
      // Bounded: a spoofed-source flood cannot grow it without limit.
      if (this.ipCache.size >= 65536) this.ipCache.clear();
      this.ipCache.set(address, ip);
    }
    this.lastAddress = address;
    this.lastIp = ip;
    return ip;
  }

  handle(msg: Buffer, address: string, tcp: boolean): EngineResult {
    if (tcp) this.stats.queries.tcp++;
    else this.stats.queries.udp++;
    try {
      const ip = this.ip(address);
      const fast = answerFast(msg, ip, this.snapshot, this.policy, tcp);
      if (fast) {
        this.stats.response(fast);
        return fast;
      }
      const out = answerSlow(msg, ip, address, this.snapshot, this.policy, tcp);
      switch (out.kind) {
        case 'reply':
          if (out.label === 'formerr')
            this.malformedLog.note({ peer: address, bytes: msg.length, transport: tcp ? 'tcp' : 'udp' });
          this.stats.response(out.bytes);
          return out.bytes;
        case 'drop':
          this.stats.drop('malformed');
          this.malformedLog.note({
            peer: address,
            bytes: msg.length,
            reason: out.reason,
            transport: tcp ? 'tcp' : 'udp',
          });
          return undefined;
        case 'transfer':
          return { transfer: out.request };
        case 'forward': {
          const fwd = this.forwarder;
          if (!fwd) return undefined;
          return fwd.resolve(out.request).then((r) => {
            this.stats.forward(r.result);
            this.stats.response(r.bytes);
            return r.bytes;
          });
        }
      }
    } catch (e) {
      // A bug must cost one answer, not the server.
      this.stats.drop('internal');
      this.logger.error('dns.internal_error', { peer: address, error: e });
      return undefined;
    }
  }
}

/** Logs the first event of each window, then once per window how many were suppressed. */
export class RateLimitedLog {
  private windowStart = 0;
  private suppressed = 0;
  constructor(
    private readonly logger: Logger,
    private readonly event: string,
    private readonly windowMs: number,
  ) {}

  note(fields: Record<string, unknown>): void {
    const now = Date.now();
    if (now - this.windowStart >= this.windowMs) {
      this.logger.warn(this.event, { ...fields, suppressedBefore: this.suppressed });
      this.windowStart = now;
      this.suppressed = 0;
    } else this.suppressed++;
  }
}
