/**
 * With interface sockets, UDP sockets that hold the DHCP server port on the served interfaces'
 * own addresses, only so that the kernel does not answer unicast DHCP (renewals, relayed
 * requests, dhcping) with ICMP port unreachable: the raw interface socket answers those.
 *
 * Bound to each address, not to 0.0.0.0 (as before issue 13): the kernel delivers limited and
 * subnet broadcasts only to sockets bound to the wildcard address, so a boot storm's DISCOVERs
 * and REQUESTs (~4 broadcasts a machine) never reach these sockets. The wildcard guard read
 * nothing, so each of them was queued there and dropped: 3998–4621 UDP RcvbufErrors per
 * 1000-machine storm in the server's namespace, all of them this socket's, which hid any real
 * drop in that counter. (A drop-all BPF filter would need setsockopt on a node:dgram socket's
 * descriptor, which Node does not offer; raw-socket's setOption only reaches its own sockets.)
 * What does arrive (unicast only) is read and discarded, so the queue stays empty.
 *
 * Addresses come and go (an HA address taken over, an address added later): `sync` opens and
 * closes sockets to match; the server calls it every few seconds. An address whose port cannot
 * be bound (another program holds it) is reported once and not retried while it stays.
 */
import dgram from 'node:dgram';
import { type Ip, formatIp } from './ipv4.js';
import { udpFastPath } from '../net/udp-fast-path.js';
import type { TransportErrorHandler } from './transport.js';

function discard(): void {}

export class PortGuard {
  private readonly sockets = new Map<Ip, dgram.Socket>();
  private readonly failed = new Set<Ip>();
  private syncing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly port: number,
    private readonly onError: TransportErrorHandler,
  ) {}

  /** The addresses held now. */
  get addresses(): Ip[] {
    return [...this.sockets.keys()];
  }

  /** Holds the port on exactly `addresses` (serialised with earlier calls). */
  sync(addresses: Iterable<Ip>): Promise<void> {
    const want = new Set(addresses);
    this.syncing = this.syncing.then(() => this.apply(want));
    return this.syncing;
  }

  private async apply(want: Set<Ip>): Promise<void> {
    if (this.closed) return;
    for (const a of this.failed) if (!want.has(a)) this.failed.delete(a);
    for (const [a, s] of this.sockets) {
      if (want.has(a)) continue;
      this.sockets.delete(a);
      s.close();
    }
    for (const a of want) {
      if (this.sockets.has(a) || this.failed.has(a)) continue;
      const s = await this.open(a);
      if (!s) this.failed.add(a);
      else if (this.closed) s.close();
      else this.sockets.set(a, s);
    }
  }

  private async open(addr: Ip): Promise<dgram.Socket | undefined> {
    const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 64 * 1024 });
    try {
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.bind(this.port, formatIp(addr), () => {
          s.off('error', reject);
          resolve();
        });
      });
    } catch (e) {
      this.onError(e, 'port-guard');
      s.close();
      return undefined;
    }
    s.on('error', (e) => this.onError(e, 'port-guard'));
    // Read and drop (the handle directly: no EventEmitter, no rinfo object when available).
    const fast = udpFastPath(s);
    if (fast) fast.onDatagram(discard);
    else s.on('message', discard);
    return s;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.syncing;
    const all = [...this.sockets.values()];
    this.sockets.clear();
    await Promise.all(all.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}
