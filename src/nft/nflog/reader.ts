import { errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics.js';
import { NFNL_SUBSYS_ULOG } from '../netlink/constants.js';
import type { NetlinkMessage } from '../netlink/message.js';
import type { RawSocketFactory } from '../netlink/socket.js';
import { type EventStream, openEventStream } from '../netlink/subscription.js';
import { NFULNL_MSG, type NflogPacket, decodeNflogPacket } from './codec.js';

export type { NflogPacket } from './codec.js';

export interface NflogReaderOptions {
  /** The `log group N` to receive. Only one socket per network namespace may bind a group. */
  group: number;
  logger: Logger;
  metrics?: Metrics;
  /** Called for every logged packet. Exceptions are caught, counted and logged. */
  onPacket: (p: NflogPacket) => void;
  /** Called when packets were lost (receive buffer overrun, or the socket had to be reopened). */
  onOverrun?: () => void;
  /** Bytes of each packet to copy (default 0xffff: everything). */
  copyRange?: number;
  /** Deliver after this many packets are queued (default 1: at once). */
  qthreshold?: number;
  /** …or after this many 1/100 s (default 1). */
  timeoutCs?: number;
  /** Receive buffer to ask for (default 8 MiB; the kernel caps it at rmem_max and doubles it). */
  recvBufferBytes?: number;
  /**
   * Hold the socket in a helper process (default) so that a netlink@0.3.0 abort on overrun
   * cannot take Gatehouse down; false keeps it in this process.
   */
  isolate?: boolean;
  /** A fake kernel (tests); implies an in-process socket. */
  rawFactory?: RawSocketFactory;
}

/**
 * Receives packets that nft `log group N` statements copy to userspace (nfnetlink_log). Used
 * by the firewall's connection log and by the LLDP listener, whose netdev ingress rule
 * `ether type 0x88cc log group N` (see netdev.ts) delivers each LLDP frame with its Ethernet
 * header in `hwheader` and the LLDPDU in `payload`.
 *
 *   const r = await NflogReader.open({ group: 7, logger, onPacket: (p) => … p.ifindex, p.hwheader, p.payload });
 *   …
 *   await r.close();
 *
 * `open` rejects with GH_NETLINK (EBUSY) when another process already bound the group.
 */
export class NflogReader {
  readonly stats = { packets: 0, malformed: 0, overruns: 0, reopens: 0 };
  private stream: EventStream | undefined;
  private readonly log: Logger;

  private readonly packetsCounter;
  private readonly lossCounter;

  private constructor(private readonly opts: NflogReaderOptions) {
    this.log = opts.logger.child({ part: 'nflog', group: opts.group });
    this.packetsCounter = opts.metrics?.counter(
      'gatehouse_nflog_packets_total',
      'packets received from nflog groups',
      ['group'],
    );
    this.lossCounter = opts.metrics?.counter(
      'gatehouse_nflog_overruns_total',
      'nflog packets lost (receive buffer overruns, socket restarts)',
      ['group'],
    );
  }

  static async open(opts: NflogReaderOptions): Promise<NflogReader> {
    const r = new NflogReader(opts);
    r.stream = await openEventStream(
      {
        kind: 'nflog',
        name: `nflog-${opts.group}`,
        group: opts.group,
        copyRange: opts.copyRange ?? 0xffff,
        qthreshold: opts.qthreshold ?? 1,
        timeoutCs: opts.timeoutCs ?? 1,
        recvBufferBytes: opts.recvBufferBytes ?? 8 << 20,
      },
      {
        onMessage: (m) => r.onMessage(m),
        onLoss: (reason, detail) => r.onLoss(reason, detail),
      },
      { logger: r.log, rawFactory: opts.rawFactory, isolate: opts.isolate },
    );
    r.log.info('nflog.bound', {
      recvBufferBytes: r.stream.stats.recvBufferBytes,
      isolated: !opts.rawFactory && opts.isolate !== false,
    });
    return r;
  }

  get group(): number {
    return this.opts.group;
  }

  private onLoss(reason: 'overrun' | 'restart', detail: string): void {
    if (reason === 'restart') this.stats.reopens++;
    this.stats.overruns++;
    this.lossCounter?.inc({ group: String(this.opts.group) });
    this.log.debug('nflog.loss', { reason, detail });
    try {
      this.opts.onOverrun?.();
    } catch (e) {
      this.log.error('nflog.listener_failed', { error: errorMessage(e) });
    }
  }

  private onMessage(m: NetlinkMessage): void {
    if (m.type !== ((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG.PACKET)) return;
    let p: NflogPacket;
    try {
      p = decodeNflogPacket(m);
    } catch (e) {
      this.stats.malformed++;
      this.log.debug('nflog.malformed', { error: errorMessage(e) });
      return;
    }
    this.stats.packets++;
    this.packetsCounter?.inc({ group: String(p.group) });
    // Any exception from the consumer is caught by the stream (never reaches the binding).
    this.opts.onPacket(p);
  }

  /** Stops receiving; closing the socket unbinds the group. */
  async close(): Promise<void> {
    const s = this.stream;
    this.stream = undefined;
    await s?.close();
  }
}
