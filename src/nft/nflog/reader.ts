import { errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../metrics.js';
import { NFNL_SUBSYS_ULOG } from '../netlink/constants.js';
import type { NetlinkMessage } from '../netlink/message.js';
import { NetlinkSocket, type RawSocketFactory } from '../netlink/socket.js';
import {
  NFULNL_COPY,
  NFULNL_MSG,
  type NflogPacket,
  bindGroup,
  decodeNflogPacket,
  setCopyMode,
  setQueueing,
  unbindGroup,
} from './codec.js';

export type { NflogPacket } from './codec.js';

export interface NflogReaderOptions {
  /** The `log group N` to receive. Only one socket per network namespace may bind a group. */
  group: number;
  logger: Logger;
  metrics?: Metrics;
  /** Called for every logged packet. Exceptions are caught, counted and logged. */
  onPacket: (p: NflogPacket) => void;
  /** Called when the kernel dropped packets for us (receive buffer overrun). */
  onOverrun?: () => void;
  /** Bytes of each packet to copy (default 0xffff: everything). */
  copyRange?: number;
  /** Deliver after this many packets are queued (default 1: at once). */
  qthreshold?: number;
  /** …or after this many 1/100 s (default 1). */
  timeoutCs?: number;
  /** Receive buffer to ask for (default 8 MiB; see NetlinkSocket). */
  recvBufferBytes?: number;
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
 * If the binding closes the socket after a receive error, the reader reopens and rebinds it.
 */
export class NflogReader {
  readonly stats = { packets: 0, malformed: 0, overruns: 0, reopens: 0 };
  private sock: NetlinkSocket | undefined;
  private closed = false;
  private reopenTimer: NodeJS.Timeout | undefined;
  private readonly log: Logger;

  private constructor(private readonly opts: NflogReaderOptions) {
    this.log = opts.logger.child({ part: 'nflog', group: opts.group });
  }

  static async open(opts: NflogReaderOptions): Promise<NflogReader> {
    const r = new NflogReader(opts);
    await r.connect();
    return r;
  }

  get group(): number {
    return this.opts.group;
  }

  private async connect(): Promise<void> {
    const sock = new NetlinkSocket({
      name: `nflog-${this.opts.group}`,
      logger: this.log,
      rawFactory: this.opts.rawFactory,
      recvBufferBytes: this.opts.recvBufferBytes ?? 8 << 20,
      onMessage: (m) => this.onMessage(m),
      onOverrun: () => {
        this.stats.overruns++;
        this.opts.metrics
          ?.counter('gatehouse_nflog_overruns_total', 'nflog receive buffer overruns (packets lost)', [
            'group',
          ])
          .inc({ group: String(this.opts.group) });
        this.opts.onOverrun?.();
      },
      onClosed: (reason) => this.scheduleReopen(reason),
    });
    try {
      await sock.request(bindGroup(this.opts.group));
      await sock.request(setCopyMode(this.opts.group, NFULNL_COPY.PACKET, this.opts.copyRange ?? 0xffff));
      await sock.request(setQueueing(this.opts.group, this.opts.qthreshold ?? 1, this.opts.timeoutCs ?? 1));
    } catch (e) {
      sock.close();
      throw e;
    }
    this.sock = sock;
    this.log.info('nflog.bound', { recvBufferBytes: sock.recvBufferBytes });
  }

  private scheduleReopen(reason: string): void {
    if (this.closed || this.reopenTimer) return;
    this.log.warn('nflog.socket_closed', { reason, action: 'reopening' });
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      if (this.closed) return;
      this.stats.reopens++;
      this.connect().catch((e: unknown) => {
        this.log.error('nflog.reopen_failed', { error: errorMessage(e) });
        this.scheduleReopen('reopen failed');
      });
    }, 200);
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
    this.opts.metrics
      ?.counter('gatehouse_nflog_packets_total', 'packets received from nflog groups', ['group'])
      .inc({ group: String(p.group) });
    // Any exception from the consumer is caught by NetlinkSocket (never reaches the binding).
    this.opts.onPacket(p);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.reopenTimer) clearTimeout(this.reopenTimer);
    const sock = this.sock;
    this.sock = undefined;
    if (!sock) return;
    try {
      if (!sock.isClosed) await sock.request(unbindGroup(this.opts.group), { timeoutMs: 1000 });
    } catch {
      // closing the socket unbinds the group anyway
    }
    sock.close();
  }
}
