import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { Counter, Gauge, Metrics } from '../metrics.js';
import { InterfaceNames } from '../nft/ifnames.js';
import { programNetdevLog, removeNetdevLog } from '../nft/nflog/netdev.js';
import { type NflogPacket, NflogReader } from '../nft/nflog/reader.js';
import { LogRateLimiter } from '../nft/rate-limit.js';
import { NftClient } from '../nft/tables/client.js';
import { decodeLldpdu, formatMac, LLDP_ETHERTYPE } from './codec.js';
import type { LldpConfig } from './config.js';
import { type Neighbour, NeighbourTable } from './neighbours.js';

export interface LldpListenerOptions {
  config: LldpConfig;
  logger: Logger;
  metrics: Metrics;
  now?: () => number;
  /** Interface index → name (tests give a fake). */
  interfaceName?: (index: number | undefined) => string | undefined;
}

/**
 * Receives LLDP frames in pure TypeScript: an nftables `netdev` table with one ingress chain
 * per configured interface and the rule `ether type 0x88cc log group N` copies every LLDP
 * frame to nfnetlink_log group N, which an NflogReader (src/nft/nflog) receives — Node.js has
 * no AF_PACKET sockets. Frames are decoded into the neighbour table; malformed ones are counted
 * and logged (rate-limited), never thrown.
 */
export class LldpListener {
  readonly table: NeighbourTable;
  private reader: NflogReader | undefined;
  private nft: NftClient | undefined;
  private sweep: NodeJS.Timeout | undefined;
  private readonly log: Logger;
  private readonly frames: Counter<'result'>;
  private readonly evictions: Counter;
  private readonly gauge: Gauge;
  private readonly malformedLog = new LogRateLimiter(10_000);
  private readonly names: (index: number | undefined) => string | undefined;

  constructor(private readonly opts: LldpListenerOptions) {
    this.log = opts.logger.child({ part: 'lldp' });
    this.table = new NeighbourTable(opts.config.maxNeighbours, opts.now);
    const ifnames = new InterfaceNames();
    this.names = opts.interfaceName ?? ((i) => ifnames.name(i));
    this.frames = opts.metrics.counter(
      'gatehouse_lldp_frames_total',
      'LLDP frames received, by result (new, refreshed, removed, ignored, malformed, not_lldp)',
      ['result'],
    );
    this.evictions = opts.metrics.counter(
      'gatehouse_lldp_evictions_total',
      'neighbours dropped to make room because the table was full (lldp.maxNeighbours)',
    );
    this.gauge = opts.metrics.gauge('gatehouse_lldp_neighbours', 'LLDP neighbours currently known');
  }

  async start(): Promise<void> {
    const { config } = this.opts;
    // Bind the group before the rule exists so no frame logged by the new rule is lost.
    this.reader = await NflogReader.open({
      group: config.group,
      logger: this.log,
      metrics: this.opts.metrics,
      onPacket: (p) => this.handlePacket(p),
      onOverrun: () => this.log.warn('lldp.overrun', { note: 'frames lost: the receive buffer overflowed' }),
    });
    this.nft = new NftClient({ logger: this.log });
    try {
      await programNetdevLog(this.nft, {
        table: config.table,
        devices: config.interfaces,
        etherType: LLDP_ETHERTYPE,
        group: config.group,
      });
    } catch (e) {
      await this.stop();
      throw e;
    }
    this.sweep = setInterval(() => this.expire(), 1000);
    this.sweep.unref();
    this.log.info('lldp.listening', {
      interfaces: config.interfaces,
      group: config.group,
      table: config.table,
    });
  }

  private expire(): void {
    const n = this.table.expire();
    if (n > 0) this.log.info('lldp.neighbours_expired', { count: n });
    this.gauge.set(this.table.size);
  }

  /** One nflog packet (public for tests that feed frames without a kernel). */
  handlePacket(p: NflogPacket): void {
    if (p.hwProtocol !== LLDP_ETHERTYPE) {
      this.frames.inc({ result: 'not_lldp' });
      return;
    }
    const iface = this.names(p.ifindex) ?? `if${p.ifindex ?? '?'}`;
    const hw = p.hwheader;
    const sourceMac = hw && hw.length >= 12 ? formatMac(hw.subarray(6, 12)) : undefined;
    const decoded = decodeLldpdu(p.payload);
    if (!decoded.ok) {
      this.frames.inc({ result: 'malformed' });
      this.malformedLog.run((suppressed) =>
        this.log.warn('lldp.malformed', {
          interface: iface,
          sourceMac,
          error: decoded.error,
          bytes: p.payload.length,
          suppressed,
        }),
      );
      return;
    }
    const du = decoded.value;
    let update: ReturnType<NeighbourTable['update']>;
    try {
      update = this.table.update(iface, du, sourceMac);
    } catch (e) {
      this.log.error('lldp.update_failed', { error: errorMessage(e) });
      return;
    }
    this.frames.inc({ result: update.result });
    if (update.evicted > 0) this.evictions.inc(update.evicted);
    this.gauge.set(this.table.size);
    if (update.result === 'new' || update.result === 'removed') {
      this.log.info(update.result === 'new' ? 'lldp.neighbour_new' : 'lldp.neighbour_gone', {
        interface: iface,
        chassis: du.chassisId.value,
        port: du.portId.value,
        systemName: du.systemName,
        ttl: du.ttl,
      });
    }
  }

  neighbours(): Neighbour[] {
    return this.table.list();
  }

  get stats(): { packets: number; malformed: number; overruns: number } {
    const s = this.reader?.stats;
    return { packets: s?.packets ?? 0, malformed: s?.malformed ?? 0, overruns: s?.overruns ?? 0 };
  }

  async stop(): Promise<void> {
    if (this.sweep) clearInterval(this.sweep);
    this.sweep = undefined;
    if (this.nft) {
      try {
        await removeNetdevLog(this.nft, this.opts.config.table);
      } catch (e) {
        this.log.warn('lldp.table_remove_failed', { table: this.opts.config.table, error: errorMessage(e) });
      }
      this.nft.close();
      this.nft = undefined;
    }
    await this.reader?.close();
    this.reader = undefined;
  }
}
