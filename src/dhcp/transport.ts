/**
 * Sockets of the DHCP server.
 *
 * - `InterfaceSocket` (root): a raw IPPROTO_UDP socket bound to one served interface with
 *   SO_BINDTODEVICE. A raw UDP socket gets a copy of every UDP datagram arriving on that
 *   interface (headers included, so we know where it was sent); a classic BPF filter
 *   (src/net/socket-filter.ts) makes the kernel queue only those to the server port, so a boot
 *   storm's TFTP ACKs and DNS queries never reach this queue nor the overload estimate (issue 13;
 *   the choice is argued in docs/dhcp.md). It sends with IP_HDRINCL, so the reply leaves
 *   through that interface with that interface's address as source — which node:dgram cannot
 *   do on a multi-homed gateway. DHCP arriving on any other interface (the uplink) is never seen.
 * - `RelaySocket`: a plain UDP socket for the unprivileged default; it cannot tell the ingress
 *   interface, so the policy answers only relayed requests through it.
 * - `PortGuard` (port-guard.ts): with interface sockets, UDP sockets holding the server port on
 *   the interfaces' addresses, only so the kernel does not answer unicast DHCP with ICMP port
 *   unreachable.
 *
 * Listeners catch everything: an exception escaping a raw-socket listener would close it.
 */
import dgram from 'node:dgram';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import raw, { type RawSocket } from 'raw-socket';
import { GatehouseError, errorMessage } from '../errors.js';
import { attachSocketFilter, udpDstPortProgram } from '../net/socket-filter.js';
import { type UdpFastPath, udpFastPath } from '../net/udp-fast-path.js';
import { BacklogEstimator } from './backlog.js';
import { MSG, peekMessageType } from './codec.js';
import { frameWithHeaders, parseIpUdp, udpDstPort } from './ip-udp.js';
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
  /**
   * Sends one datagram. `payload` may be preceded by `headroom` spare bytes of the same buffer
   * (see `encodePacket`'s `headroom`); a raw transport writes its headers there. A failure is
   * reported to the transport's error handler as `(error, 'send', to)`; nothing is thrown.
   */
  send(to: Destination, src: Ip, payload: Buffer, headroom?: number): void;
  close(): Promise<void>;
}

export type PacketHandler = (packet: Inbound) => void;
export type TransportErrorHandler = (error: unknown, where: string, to?: Destination) => void;

/**
 * Dotted forms of the few destinations replies go to (relays, broadcast, renewing clients):
 * the native send wants a string, and formatting one per datagram showed in profiles.
 */
const dottedCache = new Map<Ip, string>();
function dotted(ip: Ip): string {
  let s = dottedCache.get(ip);
  if (s === undefined) {
    s = formatIp(ip);
    if (dottedCache.size >= 4096) dottedCache.clear();
    dottedCache.set(ip, s);
  }
  return s;
}

function noop(): void {}

const SO_RCVBUFFORCE = 33;
/** DHCP messages fit in one Ethernet frame; larger UDP datagrams are not DHCP and get truncated. */
const RECV_BUFFER = 4096;
/** Datagrams read per poll wakeup before yielding to the event loop (timers, store commits). */
const RECV_BATCH = 64;
/** Most datagrams dropped from the head in one wakeup (bounds the time spent shedding). */
const SHED_MAX = 1024;
const SO_MEMINFO = 55;
/** The adaptive receive buffer never goes below the kernel default (~200 packets). */
const MIN_ADAPTIVE_BUFFER = 256 * 1024;

/** The native handle inside raw-socket's Socket (raw-socket 1.8.1, pinned). */
export interface NativeRawSocket {
  recv(buffer: Buffer, cb: (buffer: Buffer, bytes: number, source: string) => void): void;
  send(buffer: Buffer, offset: number, length: number, address: string, cb: (bytes: number) => void): void;
  getOption(level: number, option: number, value: Buffer, length: number): number;
  on(event: 'recvReady', listener: () => void): void;
  removeAllListeners(event: 'recvReady'): void;
}

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
  /** Drop from the head of the queue when requests would wait longer than this (0: never). */
  maxQueueDelayMs: number;
  /** `count` datagrams dropped unread because the queue was `delayMs` long. */
  onShed: (count: number, delayMs: number) => void;
  onPacket: PacketHandler;
  onError: TransportErrorHandler;
  /**
   * An opened socket to use as it is (no device binding, no filter): the start-up warm-up's
   * stand-in (warmup.ts). Production passes undefined and a raw socket is opened. Required, so
   * every construction site builds the options object with the same shape (V8 hidden class).
   */
  socket: RawSocket | undefined;
}

/**
 * A datagram as the relay socket hands it over (also the relay-only warm-up's, DhcpServer.warmUp:
 * one construction site, one hidden class).
 */
export function relayedInbound(payload: Buffer, src: Ip, srcPort: number, dst: Ip): Inbound {
  return { payload, src, srcPort, dst, iface: undefined, broadcast: false };
}

export type FilterState = { attached: true } | { attached: false; reason: string };

/** A raw UDP socket bound to interface `name`, writing its own IP headers. */
function openRawSocket(name: string): RawSocket {
  const { SocketLevel, SocketOption } = raw;
  let socket: RawSocket;
  try {
    socket = raw.createSocket({ protocol: raw.Protocol.UDP, bufferSize: RECV_BUFFER });
  } catch (e) {
    throw new GatehouseError(
      'GH_PERMISSION',
      `dhcp: cannot open a raw socket for interface ${name} (${errorMessage(e)}); run as root (or with CAP_NET_RAW), or leave dhcp.interfaces empty to answer relayed requests only`,
    );
  }
  try {
    const dev = Buffer.from(`${name}\0`);
    socket.setOption(SocketLevel.SOL_SOCKET, SocketOption.SO_BINDTODEVICE, dev, dev.length);
    socket.setOption(SocketLevel.IPPROTO_IP, SocketOption.IP_HDRINCL, 1);
    socket.setOption(SocketLevel.SOL_SOCKET, SocketOption.SO_BROADCAST, 1);
  } catch (e) {
    socket.close();
    throw new GatehouseError(
      'GH_LISTEN_FAILED',
      `dhcp: cannot bind a raw socket to interface ${name} (${errorMessage(e)}); check dhcp.interfaces`,
    );
  }
  return socket;
}

export class InterfaceSocket implements Transport {
  readonly iface: string;
  /**
   * Whether the kernel filters for the server port. Without it (see socket-filter.ts for when)
   * every UDP datagram of the interface is read and dropped here, and counts in the backlog.
   */
  readonly filter: FilterState;
  private readonly socket: RawSocket;
  private readonly wrap: NativeRawSocket;
  /**
   * The native handle's methods, called with Reflect.apply (no speculation on the callee): the
   * warm-up runs this code on a stand-in handle (warmup.ts), and a call through
   * `this.wrap.recv(…)` would teach TurboFan the stand-in's shape, so the first real datagram
   * would deoptimise the packet path.
   */
  private readonly nativeRecv: NativeRawSocket['recv'];
  private readonly nativeSend: NativeRawSocket['send'];
  private readonly nativeGetOption: NativeRawSocket['getOption'];
  private readonly buffer = Buffer.alloc(RECV_BUFFER);
  private readonly backlog = new BacklogEstimator();
  private meminfo: Buffer | undefined = Buffer.alloc(36);
  private recvBuffer = 0;
  private calmSince = -1;
  private cached: Ip[] = [];
  private cachedAt = 0;
  private received = -1;
  /** One callback for every native recv (a closure per call showed in profiles). */
  private readonly onRecv = (_b: Buffer, bytes: number) => {
    this.received = bytes;
  };

  constructor(private readonly opts: InterfaceSocketOptions) {
    this.iface = opts.name;
    if (opts.socket) {
      this.socket = opts.socket;
      this.filter = { attached: false, reason: 'stand-in socket (warm-up)' };
    } else {
      this.socket = openRawSocket(opts.name);
      try {
        attachSocketFilter(this.socket, udpDstPortProgram(opts.serverPort));
        this.filter = { attached: true };
      } catch (e) {
        this.filter = { attached: false, reason: errorMessage(e) };
      }
    }
    this.setRecvBuffer(opts.recvBufferBytes);
    // raw-socket 1.8 reads one datagram per poll wakeup and, while the socket stays readable,
    // never reports it writable: under a flood its queued `send()` starves completely (measured:
    // 0 replies at 40k requests/s). So we drive its native handle ourselves: drain up to
    // RECV_BATCH datagrams per wakeup and send synchronously (sendto on a non-blocking socket).
    this.wrap = (this.socket as unknown as { wrap: NativeRawSocket }).wrap;
    this.nativeRecv = this.wrap.recv;
    this.nativeSend = this.wrap.send;
    this.nativeGetOption = this.wrap.getOption;
    this.wrap.removeAllListeners('recvReady');
    this.wrap.on('recvReady', () => this.drain());
    this.socket.on('error', (e) => this.opts.onError(e, 'socket'));
  }

  private setRecvBuffer(bytes: number): void {
    const { SocketLevel, SocketOption } = raw;
    try {
      this.socket.setOption(SocketLevel.SOL_SOCKET, SO_RCVBUFFORCE, bytes);
    } catch {
      // Without CAP_NET_ADMIN: the kernel caps SO_RCVBUF at net.core.rmem_max.
      try {
        this.socket.setOption(SocketLevel.SOL_SOCKET, SocketOption.SO_RCVBUF, bytes);
      } catch (e) {
        this.opts.onError(e, 'rcvbuf');
      }
    }
    this.recvBuffer = bytes;
  }

  /**
   * While overloaded (the backlog's shedding state), size the receive buffer to what we get
   * through in half of `maxQueueDelayMs` (the shedding target), so that the kernel drops the
   * excess for free instead of us reading it to drop it; back to the configured size after a
   * calm second. A burst (a boot storm) never shrinks it: it is not an overload (backlog.ts),
   * and a smaller buffer would drop the REQUESTs that follow the storm's OFFERs.
   */
  private adaptRecvBuffer(full: boolean, now: number): void {
    const { recvBufferBytes, maxQueueDelayMs } = this.opts;
    if (maxQueueDelayMs <= 0) return;
    if (full) {
      const want = Math.max(
        MIN_ADAPTIVE_BUFFER,
        Math.min(
          recvBufferBytes,
          Math.round((this.backlog.packetsPerMs * maxQueueDelayMs * this.backlog.packetBytes) / 2),
        ),
      );
      if (this.backlog.packetsPerMs > 0 && Math.abs(want - this.recvBuffer) > this.recvBuffer / 4)
        this.setRecvBuffer(want);
      this.calmSince = -1;
    } else if (this.recvBuffer < recvBufferBytes) {
      if (this.calmSince < 0) this.calmSince = now;
      else if (now - this.calmSince > 1000) this.setRecvBuffer(recvBufferBytes);
    }
  }

  /** Bytes waiting in the receive queue (SO_MEMINFO), or -1 when the kernel does not say. */
  private queuedBytes(): number {
    if (!this.meminfo) return -1;
    try {
      const m = this.meminfo;
      Reflect.apply(this.nativeGetOption, this.wrap, [raw.SocketLevel.SOL_SOCKET, SO_MEMINFO, m, m.length]);
      return m.readUInt32LE(0);
    } catch {
      this.meminfo = undefined;
      return -1;
    }
  }

  /** One datagram into `this.buffer`: its length, or -1 when the queue is empty. */
  private recvOne(): number {
    this.received = -1;
    try {
      Reflect.apply(this.nativeRecv, this.wrap, [this.buffer, this.onRecv]);
    } catch (e) {
      // EAGAIN: drained. Anything else is reported; the socket stays open.
      if (!/temporarily unavailable|would block/i.test(errorMessage(e))) this.opts.onError(e, 'recv');
      return -1;
    }
    return this.received;
  }

  private handleDatagram(len: number): void {
    const { serverPort, onPacket, onError, name } = this.opts;
    try {
      const buf = this.buffer.subarray(0, len);
      // With the socket filter only server-port datagrams arrive, except those queued before
      // it was attached; without it, every UDP datagram of the interface (DNS, TFTP…).
      if (udpDstPort(buf) !== serverPort) return;
      const parsed = parseIpUdp(buf);
      if (!parsed.ok) {
        onError(new Error(parsed.reason), 'ip-udp');
        return;
      }
      const d = parsed.datagram;
      // The buffer is reused by the next recv: the handler runs to completion synchronously
      // and copies what it keeps.
      onPacket({
        payload: d.payload,
        src: d.src,
        srcPort: d.srcPort,
        dst: d.dst,
        iface: name,
        broadcast: d.dst === IP_BROADCAST,
      });
    } catch (e) {
      onError(e, 'handler');
    }
  }

  private drain(): void {
    const { maxQueueDelayMs } = this.opts;
    const now = performance.now();
    const queued = this.queuedBytes();
    if (queued > 0 && maxQueueDelayMs > 0 && this.backlog.shouldShed(now, queued, maxQueueDelayMs)) {
      // Head drop of new DISCOVERs: the oldest are the ones whose clients gave up or retried.
      // Other messages (REQUESTs of exchanges already offered, RELEASEs…) are still handled,
      // so the work already done turns into leases.
      let excess = Math.min(this.backlog.excess(queued, maxQueueDelayMs / 2), SHED_MAX);
      let shed = 0;
      while (excess-- > 0) {
        const len = this.recvOne();
        if (len < 0) break;
        const buf = this.buffer.subarray(0, len);
        const ihl = (buf[0]! & 0x0f) * 4;
        if (udpDstPort(buf) === this.opts.serverPort && peekMessageType(buf, ihl + 8) === MSG.DISCOVER) {
          shed++;
        } else {
          this.handleDatagram(len);
        }
      }
      if (shed > 0) this.opts.onShed(shed, this.backlog.delayMs(queued));
    }
    let packets = 0;
    // An empty queue makes recv throw EAGAIN, and an exception costs more than asking first;
    // asking costs a syscall too. So read the datagrams known to wait, and ask again only when
    // several were waiting (a burst); after a lone one, return: the poll is level-triggered and
    // calls again if more arrived meanwhile. (Reading the first datagram without asking, after
    // a quiet spell, was tried: requests come in small bursts, so it mostly traded the query
    // for one more poll wakeup, which costs more.)
    let known = queued < 0 ? RECV_BATCH : this.backlog.packetsIn(queued);
    for (; packets < RECV_BATCH; packets++) {
      if (packets >= known) {
        if (known < 2) break;
        const q = this.queuedBytes();
        if (q <= 0) break;
        known = packets + this.backlog.packetsIn(q);
      }
      const len = this.recvOne();
      if (len < 0) break;
      this.handleDatagram(len);
    }
    if (queued >= 0) {
      this.backlog.observe(now, queued, packets, packets === RECV_BATCH);
      this.adaptRecvBuffer(packets === RECV_BATCH && this.backlog.overloaded, now);
    }
  }

  /** Moves the clocks of the address cache and the backlog on by `ms` (the warm-up: their periodic paths run too). */
  age(ms: number): void {
    this.cachedAt -= ms;
    this.backlog.age(ms);
  }

  addresses(): readonly Ip[] {
    const now = Date.now();
    if (now - this.cachedAt > 5000) {
      this.cached = interfaceAddresses(this.opts.name);
      this.cachedAt = now;
    }
    return this.cached;
  }

  send(to: Destination, src: Ip, payload: Buffer, headroom = 0): void {
    const datagram = frameWithHeaders(payload, headroom, src, to.ip, this.opts.serverPort, to.port);
    try {
      Reflect.apply(this.nativeSend, this.wrap, [datagram, 0, datagram.length, dotted(to.ip), noop]);
    } catch (e) {
      // EAGAIN/ENOBUFS when the send buffer is full: the reply is dropped and the client retries.
      this.opts.onError(e, 'send', to);
    }
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
  private fast: UdpFastPath | undefined;
  private readonly onError: TransportErrorHandler;

  private constructor(opts: RelaySocketOptions) {
    this.onError = opts.onError;
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
    const onDatagram = (msg: Buffer, address: string, port: number) => {
      try {
        opts.onPacket(relayedInbound(msg, parseIp(address) ?? 0, port, h ?? 0));
      } catch (e) {
        opts.onError(e, 'handler');
      }
    };
    // The bound handle directly (src/net/udp-fast-path.ts): no per-send lookup, no EventEmitter.
    s.fast = udpFastPath(s.socket);
    if (s.fast) s.fast.onDatagram(onDatagram);
    else s.socket.on('message', (msg, rinfo) => onDatagram(msg, rinfo.address, rinfo.port));
    return s;
  }

  get port(): number {
    return this.socket.address().port;
  }

  addresses(): readonly Ip[] {
    return this.own;
  }

  send(to: Destination, _src: Ip, payload: Buffer): void {
    if (this.fast) {
      const before = this.fast.errors;
      this.fast.send(payload, to.port, dotted(to.ip));
      if (this.fast.errors !== before) this.onError(new Error('the kernel refused the datagram'), 'send', to);
      return;
    }
    this.socket.send(payload, to.port, dotted(to.ip), (error) => {
      if (error) this.onError(error, 'send', to);
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
