import { errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics.js';
import { NFNL_SUBSYS_CTNETLINK, NFPROTO_UNSPEC } from '../netlink/constants.js';
import type { NetlinkMessage } from '../netlink/message.js';
import { NetlinkSocket, type RawSocketFactory } from '../netlink/socket.js';
import { type EventStream, openEventStream } from '../netlink/subscription.js';
import { LogRateLimiter } from '../rate-limit.js';
import { CT_GROUP, type CtEntry, conntrackDumpRequest, decodeCtMessage, isNatted } from './codec.js';
import type { Attribution } from './format.js';

export interface ConntrackLoggerOptions {
  logger: Logger;
  metrics: Metrics;
  /** Who held a source address at this moment (MDB + presence). */
  attribute: (ip: string) => Attribution;
  /** Receives each NATed connection once; must be quick (queue, don't wait). */
  emit: (e: CtEntry, who: Attribution, opts: { recovered: boolean }) => void;
  recvBufferBytes?: number;
  /** Hold the event socket in a helper process (default; see netlink/isolated-stream.ts). */
  isolate?: boolean;
  /** Period of the bookkeeping dump that forgets finished connections (default 5 min). */
  resyncIntervalMs?: number;
  rawFactory?: RawSocketFactory;
}

function keyOf(e: CtEntry): string {
  const o = e.orig;
  return `${e.id ?? ''}|${o.proto}|${o.src}|${o.sport ?? o.icmpId ?? ''}|${o.dst}|${o.dport ?? ''}`;
}

/**
 * The conntrack logger of spec §11.3 (`conntrack -E -e NEW -j`): NEW events from ctnetlink,
 * NATed ones only, one line each. An event socket can overrun under a flood of new
 * connections; the kernel then drops events and tells us with ENOBUFS. We count it, and a
 * resync dump of the conntrack table finds the NATed connections we never heard of: they are
 * logged (marked `recovered=dump`) and their number is reported as lost events. Connections
 * that both started and ended inside the overrun cannot be recovered; the report says so.
 */
export class ConntrackLogger {
  readonly stats = {
    events: 0,
    logged: 0,
    notNatted: 0,
    overruns: 0,
    recovered: 0,
    malformed: 0,
    resyncs: 0,
    reopens: 0,
  };
  private events: EventStream | undefined;
  private requests: NetlinkSocket | undefined;
  /** Keys of connections already logged (or alive at the last dump). */
  private seen = new Set<string>();
  /** Keys seen since the running dump started (kept when the dump replaces `seen`). */
  private seenSinceDump: Set<string> | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private periodicTimer: NodeJS.Timeout | undefined;
  private resyncing: Promise<void> | undefined;
  private resyncAgain = false;
  private overrunsSinceReport = 0;
  private stopped = false;
  private readonly log: Logger;
  private readonly overrunLog = new LogRateLimiter(5000);
  private readonly counters;

  constructor(private readonly opts: ConntrackLoggerOptions) {
    this.log = opts.logger.child({ part: 'conntrack' });
    const m = opts.metrics;
    this.counters = {
      events: m.counter('gatehouse_conntrack_events_total', 'conntrack NEW events received'),
      logged: m.counter(
        'gatehouse_conntrack_logged_total',
        'NATed connections written to the connection log',
        ['source'],
      ),
      overruns: m.counter(
        'gatehouse_conntrack_overruns_total',
        'conntrack event socket overruns (events dropped by the kernel)',
      ),
      lost: m.counter(
        'gatehouse_conntrack_lost_events_total',
        'NATed connections whose NEW event was lost and that a resync dump recovered',
      ),
      malformed: m.counter('gatehouse_conntrack_malformed_total', 'undecodable conntrack messages'),
    };
  }

  async start(): Promise<void> {
    this.requests = new NetlinkSocket({
      name: 'ctnetlink-dump',
      logger: this.log,
      rawFactory: this.opts.rawFactory,
      recvBufferBytes: 8 << 20,
    });
    this.events = await openEventStream(
      {
        kind: 'groups',
        name: 'ctnetlink-events',
        groups: [CT_GROUP.NEW],
        recvBufferBytes: this.opts.recvBufferBytes ?? 8 << 20,
      },
      {
        onMessage: (m) => this.onMessage(m),
        onLoss: (reason, detail) => {
          if (reason === 'restart') {
            this.stats.reopens++;
            this.log.warn('conntrack.socket_restarted', { detail, action: 'resync by dump' });
          }
          this.onOverrun();
        },
      },
      { logger: this.log, rawFactory: this.opts.rawFactory, isolate: this.opts.isolate },
    );
    this.log.info('conntrack.subscribed', { recvBufferBytes: this.events.stats.recvBufferBytes });
    // Connections alive before we started were not new to us: remember them without logging.
    await this.resync('start', false);
    const every = this.opts.resyncIntervalMs ?? 300_000;
    this.periodicTimer = setInterval(() => this.requestResync('periodic', 0), every);
    this.periodicTimer.unref();
  }

  private onMessage(m: NetlinkMessage): void {
    if (m.type >> 8 !== NFNL_SUBSYS_CTNETLINK) return;
    let e: CtEntry;
    try {
      e = decodeCtMessage(m);
    } catch (err) {
      this.stats.malformed++;
      this.counters.malformed.inc();
      this.log.debug('conntrack.malformed', { error: errorMessage(err) });
      return;
    }
    if (e.kind !== 'new') return;
    this.stats.events++;
    this.counters.events.inc();
    if (!isNatted(e)) {
      this.stats.notNatted++;
      return;
    }
    const key = keyOf(e);
    this.seenSinceDump?.add(key);
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.write(e, false);
  }

  private write(e: CtEntry, recovered: boolean): void {
    this.stats.logged++;
    this.counters.logged.inc({ source: recovered ? 'dump' : 'event' });
    this.opts.emit(e, this.opts.attribute(e.orig.src), { recovered });
  }

  private onOverrun(): void {
    this.stats.overruns++;
    this.overrunsSinceReport++;
    this.counters.overruns.inc();
    this.overrunLog.run((suppressed) =>
      this.log.warn('conntrack.overrun', {
        overruns: this.stats.overruns,
        suppressed,
        action: 'resync by dump after the burst',
      }),
    );
    // One dump shortly after the first loss rather than one per overrun.
    this.requestResync('overrun', 200);
  }

  private requestResync(reason: string, delayMs: number): void {
    if (this.stopped) return;
    // A resync already scheduled covers this loss too; never postpone it (a flood would).
    if (this.resyncTimer) return;
    this.resyncTimer = setTimeout(() => {
      this.resyncTimer = undefined;
      if (this.resyncing) {
        this.resyncAgain = true;
        return;
      }
      void this.resync(reason, true);
    }, delayMs);
  }

  /** Dumps the conntrack table; logs NATed entries never seen (when `logMissing`); forgets dead ones. */
  resync(reason: string, logMissing = true): Promise<void> {
    if (this.resyncing) return this.resyncing;
    this.resyncing = this.doResync(reason, logMissing).finally(() => {
      this.resyncing = undefined;
      if (this.resyncAgain && !this.stopped) {
        this.resyncAgain = false;
        this.requestResync('overrun', 0);
      }
    });
    return this.resyncing;
  }

  private async doResync(reason: string, logMissing: boolean): Promise<void> {
    const sock = this.requests;
    if (!sock) return;
    this.stats.resyncs++;
    const overruns = this.overrunsSinceReport;
    this.overrunsSinceReport = 0;
    this.seenSinceDump = new Set();
    const t0 = Date.now();
    let entries: CtEntry[];
    try {
      const r = await sock.dump(conntrackDumpRequest(NFPROTO_UNSPEC));
      entries = [];
      for (const m of r.messages) {
        try {
          entries.push(decodeCtMessage(m, true));
        } catch {
          this.stats.malformed++;
        }
      }
    } catch (e) {
      this.seenSinceDump = undefined;
      this.log.error('conntrack.resync_failed', { reason, error: errorMessage(e) });
      return;
    }
    const dumpMs = Date.now() - t0;
    const alive = new Set<string>();
    let recovered = 0;
    for (const e of entries) {
      if (!isNatted(e)) continue;
      const key = keyOf(e);
      alive.add(key);
      if (this.seen.has(key) || this.seenSinceDump.has(key)) continue;
      if (logMissing) {
        recovered++;
        this.write(e, true);
      }
    }
    for (const k of this.seenSinceDump) alive.add(k);
    this.seen = alive;
    this.seenSinceDump = undefined;
    if (recovered > 0 || overruns > 0) {
      this.stats.recovered += recovered;
      this.counters.lost.inc(recovered);
      this.log.warn('conntrack.events_lost', {
        reason,
        overruns,
        dumped: entries.length,
        dumpMs,
        lost: recovered,
        recoveredFromDump: recovered,
        note: 'lost = NATed connections whose NEW event the kernel dropped, found alive by the resync dump and logged now; connections that began and ended during the overrun cannot be recovered',
      });
    } else {
      this.log.debug('conntrack.resynced', { reason, alive: alive.size, dumped: entries.length, dumpMs });
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.resyncTimer) clearTimeout(this.resyncTimer);
    if (this.periodicTimer) clearInterval(this.periodicTimer);
    await this.events?.close();
    await this.resyncing?.catch(() => {});
    this.requests?.close();
  }
}
