import type { Counter } from '../metrics.js';
import type { Metrics } from '../metrics.js';
import { rcodeName } from './constants.js';

/**
 * Hot-path counters as plain numbers (a prom-client label lookup per packet would cost more
 * than answering it). `flushTo` moves the deltas into Prometheus counters; cluster workers
 * send theirs to the main process, which flushes them the same way.
 */
export class DnsStats {
  queries = { udp: 0, tcp: 0 };
  /** Responses by rcode (index) — extended rcodes are folded into slot 16. */
  rcodes = new Array<number>(17).fill(0);
  truncated = 0;
  dropped: Record<string, number> = {};
  forwarded: Record<string, number> = {};

  drop(reason: string): void {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + 1;
  }

  forward(result: string): void {
    this.forwarded[result] = (this.forwarded[result] ?? 0) + 1;
  }

  /** Counts one response from its header bytes. */
  response(b: Buffer): void {
    this.rcodes[b[3]! & 0x0f]!++;
    if (b[2]! & 0x02) this.truncated++;
  }

  /** Takes the counts so far and resets them. */
  take(): DnsStatsDelta {
    const d: DnsStatsDelta = {
      queries: { ...this.queries },
      rcodes: [...this.rcodes],
      truncated: this.truncated,
      dropped: this.dropped,
      forwarded: this.forwarded,
    };
    this.queries = { udp: 0, tcp: 0 };
    this.rcodes.fill(0);
    this.truncated = 0;
    this.dropped = {};
    this.forwarded = {};
    return d;
  }
}

export interface DnsStatsDelta {
  queries: { udp: number; tcp: number };
  rcodes: number[];
  truncated: number;
  dropped: Record<string, number>;
  forwarded: Record<string, number>;
}

export class DnsMetrics {
  readonly queries: Counter<'transport'>;
  readonly responses: Counter<'rcode'>;
  readonly truncated: Counter;
  readonly dropped: Counter<'reason'>;
  readonly forwarded: Counter<'result'>;

  constructor(metrics: Metrics) {
    this.queries = metrics.counter('gatehouse_dns_queries_total', 'DNS queries received', ['transport']);
    this.responses = metrics.counter('gatehouse_dns_responses_total', 'DNS responses sent, by rcode', [
      'rcode',
    ]);
    this.truncated = metrics.counter(
      'gatehouse_dns_truncated_total',
      'UDP responses sent truncated (TC) to make the client retry over TCP',
    );
    this.dropped = metrics.counter(
      'gatehouse_dns_dropped_total',
      'DNS packets dropped without an answer (malformed header, responses, limits)',
      ['reason'],
    );
    this.forwarded = metrics.counter(
      'gatehouse_dns_forwarded_total',
      'Queries forwarded to upstream resolvers, by result',
      ['result'],
    );
  }

  add(d: DnsStatsDelta): void {
    if (d.queries.udp) this.queries.inc({ transport: 'udp' }, d.queries.udp);
    if (d.queries.tcp) this.queries.inc({ transport: 'tcp' }, d.queries.tcp);
    d.rcodes.forEach((n, i) => {
      if (n) this.responses.inc({ rcode: rcodeName(i) }, n);
    });
    if (d.truncated) this.truncated.inc(d.truncated);
    for (const [reason, n] of Object.entries(d.dropped)) this.dropped.inc({ reason }, n);
    for (const [result, n] of Object.entries(d.forwarded)) this.forwarded.inc({ result }, n);
  }
}
