/**
 * Sockets of the DHCP server.
 *
 * - `InterfaceSocket` (root): a raw IPPROTO_UDP socket bound to one served interface with
 *   SO_BINDTODEVICE. It receives every UDP datagram arriving on that interface (headers
 *   included, so we know where it was sent) and sends with IP_HDRINCL, so the reply leaves
 *   through that interface with that interface's address as source — which node:dgram cannot
 *   do on a multi-homed gateway. DHCP arriving on any other interface (the uplink) is never seen.
 * - `RelaySocket`: a plain UDP socket for the unprivileged default; it cannot tell the ingress
 *   interface, so the policy answers only relayed requests through it.
 * - `PortGuard`: with interface sockets, a UDP socket on the server port that discards what
 *   it gets, only so the kernel does not answer unicast DHCP with ICMP port unreachable.
 *
 * Listeners catch everything: an exception escaping a raw-socket listener would close it.
 */
import dgram from 'node:dgram';
import os from 'node:os';
import raw, { type RawSocket } from 'raw-socket';
import { GatehouseError, errorMessage } from '../errors.js';
import { buildIpUdp, parseIpUdp, udpDstPort } from './ip-udp.js';
import { type Ip, IP_BROADCAST, formatIp, parseIp } from './ipv4.js';
import type { Destination } from './reply.js';

export interface Inbound {
  payload: Buffer;
  src: Ip;
  srcPort: number;
  dst: Ip;
  /** The served interface it arrived on; undefined for the relay socket. */
  iface: string | undefined;
  broadcast: boolean;
}

export interface Transport {
  readonly iface: string | undefined;
  /** This transport's own IPv4 addresses (server identifiers). */
  addresses(): readonly Ip[];
  send(to: Destination, src: Ip, payload: Buffer, done: (error: Error | null) => void): void;
  close(): Promise<void>;
}

export type PacketHandler = (packet: Inbound) => void;
export type TransportErrorHandler = (error: unknown, where: string) => void;

const SO_RCVBUFFORCE = 33;
/** DHCP messages fit in one Ethernet frame; larger UDP datagrams are not DHCP and get truncated. */
const RECV_BUFFER = 4096;

function interfaceAddresses(name: string): Ip[] {
  const out: Ip[] = [];
  for (const a of os.networkInterfaces()[name] ?? []) {
    if (a.family !== 'IPv4') continue;
    const v = parseIp(a.address);
    if (v !== undefined) out.push(v);
  }
  return out;
}

export interface InterfaceSocketOptions {
  name: string;
  serverPort: number;
  recvBufferBytes: number;
  onPacket: PacketHandler;
  onError: TransportErrorHandler;
}

export class InterfaceSocket implements Transport {
  readonly iface: string;
  private readonly socket: RawSocket;
  private cached: Ip[] = [];
  private cachedAt = 0;

  constructor(private readonly opts: InterfaceSocketOptions) {
    this.iface = opts.name;
    const { SocketLevel, SocketOption } = raw;
    try {
      this.socket = raw.createSocket({ protocol: raw.Protocol.UDP, bufferSize: RECV_BUFFER });
    } catch (e) {
      throw new GatehouseError(
        'GH_PERMISSION',
        `dhcp: cannot open a raw socket for interface ${opts.name} (${errorMessage(e)}); run as root (or with CAP_NET_RAW), or leave dhcp.interfaces empty to answer relayed requests only`,
      );
    }
    try {
      const dev = Buffer.from(`${opts.name}\0`);
      this.socket.setOption(SocketLevel.SOL_SOCKET, SocketOption.SO_BINDTODEVICE, dev, dev.length);
      this.socket.setOption(SocketLevel.IPPROTO_IP, SocketOption.IP_HDRINCL, 1);
      this.socket.setOption(SocketLevel.SOL_SOCKET, SocketOption.SO_BROADCAST, 1);
    } catch (e) {
      this.socket.close();
      throw new GatehouseError(
        'GH_LISTEN_FAILED',
        `dhcp: cannot bind a raw socket to interface ${opts.name} (${errorMessage(e)}); check dhcp.interfaces`,
      );
    }
    try {
      this.socket.setOption(SocketLevel.SOL_SOCKET, SO_RCVBUFFORCE, opts.recvBufferBytes);
    } catch {
      // Without CAP_NET_ADMIN: the kernel caps SO_RCVBUF at net.core.rmem_max.
      try {
        this.socket.setOption(SocketLevel.SOL_SOCKET, SocketOption.SO_RCVBUF, opts.recvBufferBytes);
      } catch (e) {
        opts.onError(e, 'rcvbuf');
      }
    }
    this.socket.on('message', (buf, _source) => {
      try {
        // Every UDP datagram of the interface lands here (DNS, TFTP, our own looped-back
        // broadcasts): the port test is the cheap filter.
        if (udpDstPort(buf) !== opts.serverPort) return;
        const parsed = parseIpUdp(buf);
        if (!parsed.ok) {
          opts.onError(new Error(parsed.reason), 'ip-udp');
          return;
        }
        const d = parsed.datagram;
        // The receive buffer is reused by the next recv: the handler finishes with it first
        // (it runs to completion synchronously).
        opts.onPacket({
          payload: d.payload,
          src: d.src,
          srcPort: d.srcPort,
          dst: d.dst,
          iface: opts.name,
          broadcast: d.dst === IP_BROADCAST,
        });
      } catch (e) {
        opts.onError(e, 'handler');
      }
    });
    this.socket.on('error', (e) => opts.onError(e, 'socket'));
  }

  addresses(): readonly Ip[] {
    const now = Date.now();
    if (now - this.cachedAt > 5000) {
      this.cached = interfaceAddresses(this.opts.name);
      this.cachedAt = now;
    }
    return this.cached;
  }

  send(to: Destination, src: Ip, payload: Buffer, done: (error: Error | null) => void): void {
    const datagram = buildIpUdp(src, to.ip, this.opts.serverPort, to.port, payload);
    this.socket.send(datagram, 0, datagram.length, formatIp(to.ip), (error) => done(error));
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      try {
        this.socket.close();
      } catch {
        resolve();
      }
    });
  }
}

export interface RelaySocketOptions {
  host: string;
  port: number;
  recvBufferBytes: number;
  onPacket: PacketHandler;
  onError: TransportErrorHandler;
}

export class RelaySocket implements Transport {
  readonly iface = undefined;
  private readonly socket: dgram.Socket;
  private own: Ip[] = [];

  private constructor(opts: RelaySocketOptions) {
    this.socket = dgram.createSocket({
      type: 'udp4',
      reuseAddr: false,
      recvBufferSize: opts.recvBufferBytes,
    });
  }

  static async open(opts: RelaySocketOptions): Promise<RelaySocket> {
    const s = new RelaySocket(opts);
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error) =>
        reject(
          new GatehouseError(
            'GH_LISTEN_FAILED',
            `dhcp: cannot listen on ${opts.host}:${opts.port} (${e.message}); check dhcp.listen`,
          ),
        );
      s.socket.once('error', onError);
      s.socket.bind(opts.port, opts.host, () => {
        s.socket.off('error', onError);
        resolve();
      });
    });
    const h = parseIp(opts.host);
    s.own = h !== undefined && h !== 0 ? [h] : [];
    s.socket.on('error', (e) => opts.onError(e, 'socket'));
    s.socket.on('message', (msg, rinfo) => {
      try {
        opts.onPacket({
          payload: msg,
          src: parseIp(rinfo.address) ?? 0,
          srcPort: rinfo.port,
          dst: h ?? 0,
          iface: undefined,
          broadcast: false,
        });
      } catch (e) {
        opts.onError(e, 'handler');
      }
    });
    return s;
  }

  get port(): number {
    return this.socket.address().port;
  }

  addresses(): readonly Ip[] {
    return this.own;
  }

  send(to: Destination, _src: Ip, payload: Buffer, done: (error: Error | null) => void): void {
    this.socket.send(payload, to.port, formatIp(to.ip), (error) => done(error ?? null));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** See the module comment. Returns undefined (after `onError`) when the port is taken. */
export async function openPortGuard(
  port: number,
  onError: TransportErrorHandler,
): Promise<dgram.Socket | undefined> {
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 4096 });
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(port, '0.0.0.0', () => {
        s.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    onError(e, 'port-guard');
    s.close();
    return undefined;
  }
  s.on('error', (e) => onError(e, 'port-guard'));
  s.on('message', () => {});
  return s;
}
