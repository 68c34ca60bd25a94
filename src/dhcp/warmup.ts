/**
 * The start-up warm-up's traffic and stand-ins: synthetic PXE and iPXE DISCOVERs and REQUESTs,
 * shaped like a boot ROM's, fed to a *twin* of the server (DhcpServer.warmUp) through stand-in
 * raw sockets, so that V8 has compiled the whole per-packet path — from the received datagram
 * (InterfaceSocket's drain) through decode, policy, lease engine, boot progress, summary, log
 * limiter and metrics cells, reply encoding, to the frame handed to the socket's send — before
 * the first boot storm.
 *
 * Why: a fresh server meets a boot storm's first 1000 DISCOVERs with interpreted code. Measured
 * in bench/bootstorm (issue 13, first storm after start, busy box): the first 64 datagrams took
 * 80 ms and the next batches 36 ms each, the overload guard took that for the server's rate and
 * shed 800 DISCOVERs, which the ROMs only repeated 4 s later. The lone warm-up machine the bench
 * boots first (one DORA) compiles nothing: V8 optimises a function after many calls.
 *
 * Why twins and these shapes: TurboFan compiles for the object shapes and value ranges it has
 * seen, and deoptimises (then compiles again) when real traffic brings others. An earlier
 * warm-up ran the pure stages alone with a throwaway host map and a lease engine persisting to a
 * plain object, on frames from a pooled Buffer with small xids: in the storm nine of those
 * functions deoptimised (a lease sink of another class, xids above 2^31 that are no Smi, …) and
 * the server-side half was compiled there. So the twins are the same DhcpServer class, and
 * their collaborators are of the real classes too, only throwaway: a StoreLeaseWriter whose
 * store keeps nothing, their own metrics registry, a logger that writes nothing, their own
 * BootProgress and plan, a HostMap of synthetic machines (copies of one read from MDB: same
 * hidden class; a new machine per round, as a storm is of new machines), and InterfaceSockets
 * on stand-in raw sockets that queue these frames and drop what is sent. Two twins, used in
 * turn, because a closure made per server (onPacket, isServerId) would otherwise be taken for
 * the only one. Requests use random 32-bit xids, as ROMs do. The stand-in also plays a storm's
 * receive queue: bursts of full batches, a congested first look, datagrams arriving while a
 * batch is read; and the twins' clocks are moved on between slices (DhcpServer.age) so the
 * per-second and 5-s paths run too. Nothing real is touched: no datagram sent, no lease stored,
 * no metric counted (the real counters only resolve, at zero, the cells the twins used), no log
 * line, no boot-progress entry, no overload estimate of a real socket.
 */
import { EventEmitter } from 'node:events';
import type { RawSocket } from 'raw-socket';
import type { Machine } from '../mdb/model.js';
import { syntheticMac, syntheticMachine } from '../mdb/synthetic.js';
import { BOOTREQUEST, type EncodeInput, MSG, type MessageType, OPT, encodePacket } from './codec.js';
import { buildIpUdp } from './ip-udp.js';
import { IP_BROADCAST, type Ip, formatIp, parseIp } from './ipv4.js';
import { ipOpt, textOpt, u8Opt } from './options.js';
import { type DhcpPlan, knownSubnetOf } from './plan.js';
import type { NativeRawSocket } from './transport.js';

/** SO_MEMINFO (the only option the transport reads while receiving). */
const SO_MEMINFO = 55;
/** Kernel memory the stand-in reports per queued datagram (a small UDP skb's truesize). */
const TRUESIZE = 1152;
/**
 * What a congested wakeup reports on top (see `deliver`): a million datagrams, an estimated
 * wait above any `maxQueueDelayMs` at any rate the twin measures (a storm's first batches show
 * such waits too).
 */
const CONGESTION_BYTES = 1 << 30;
/** Offset of the BOOTP xid in a frame (IPv4 header without options + UDP header). */
const XID_OFFSET = 28 + 4;

/**
 * The native handle of a stand-in raw socket: `recv` takes the next queued frame, `send` keeps
 * nothing, SO_MEMINFO reports the queue. Counts what it saw (tests).
 */
export class StandInHandle implements NativeRawSocket {
  private queue: Buffer[] = [];
  private head = 0;
  /** Frames that arrive right after the next look at the queue (while the server reads). */
  private arriving: readonly Buffer[] = [];
  private ready: (() => void) | undefined;
  private extra = 0;
  sent = 0;
  received = 0;

  recv(buffer: Buffer, cb: (buffer: Buffer, bytes: number, source: string) => void): void {
    const frame = this.queue[this.head];
    // What the native recv throws on an empty non-blocking socket (EAGAIN).
    if (frame === undefined) throw new Error('Resource temporarily unavailable');
    this.queue[this.head++] = EMPTY;
    this.received++;
    buffer.set(frame);
    // Called as the native code calls it (not inlined here), so that it is compiled on its own.
    Reflect.apply(cb, undefined, [buffer, frame.length, '0.0.0.0']);
  }

  send(
    _buffer: Buffer,
    _offset: number,
    length: number,
    _address: string,
    cb: (bytes: number) => void,
  ): void {
    this.sent++;
    Reflect.apply(cb, undefined, [length]);
  }

  getOption(_level: number, option: number, value: Buffer, length: number): number {
    if (option === SO_MEMINFO) {
      value.writeUInt32LE((this.queue.length - this.head) * TRUESIZE + this.extra, 0);
      this.extra = 0;
      for (const f of this.arriving) this.queue.push(f);
      this.arriving = [];
    }
    return length;
  }

  on(_event: 'recvReady', listener: () => void): void {
    this.ready = listener;
  }

  removeAllListeners(_event: 'recvReady'): void {
    this.ready = undefined;
  }

  /**
   * Queues `frames` and signals readability until they are all read, as the level-triggered
   * poll does. `congested`: the first look at the queue says it is far longer than it is, as at
   * a storm's start (the transport's overload estimate then runs its "wait above the bound"
   * path, and reads until the socket says EAGAIN). One look only: never long enough to shed.
   * The second half of `frames` arrives just after the first look, as in a storm more arrive
   * while a batch is read (the transport asks the queue again).
   */
  deliver(frames: readonly Buffer[], congested = false): void {
    if (congested) this.extra = CONGESTION_BYTES;
    const half = Math.ceil(frames.length / 2);
    for (let i = 0; i < half; i++) this.queue.push(frames[i]!);
    this.arriving = frames.slice(half);
    while (this.head < this.queue.length && this.ready) {
      const before = this.head;
      this.ready();
      if (this.head === before) break;
    }
    this.queue = [];
    this.head = 0;
    this.extra = 0;
    this.arriving = [];
  }
}
const EMPTY = Buffer.alloc(0);

/** A stand-in for raw-socket's Socket: options are accepted and ignored, `wrap` is a StandInHandle. */
class StandInRawSocket extends EventEmitter {
  readonly wrap = new StandInHandle();
  setOption(): void {}
  getOption(level: number, option: number, value: Buffer, length: number): number {
    return this.wrap.getOption(level, option, value, length);
  }
  close(): this {
    this.emit('close');
    return this;
  }
}

export function standInRawSocket(): { socket: RawSocket; handle: StandInHandle } {
  const s = new StandInRawSocket();
  return { socket: s as unknown as RawSocket, handle: s.wrap };
}

/** A machine of MDB served by one of the plan's subnets (the warm-up's machines copy its shape). */
export function servedMachine(plan: DhcpPlan, machines: Iterable<Machine>, scan = 1000): Machine | undefined {
  let n = 0;
  for (const m of machines) {
    if (++n > scan) break;
    const addr = parseIp(m.ip);
    if (m.mac && addr !== undefined && knownSubnetOf(plan, addr)) return m;
  }
  return undefined;
}

/**
 * `count` machines no real one is expected to be (locally administered MACs fe:57:…), in the
 * first subnet, each a copy of `shape` (a machine read from MDB when there is one: a copy made
 * by spreading keeps V8's hidden class of the store's records). A storm is of new machines, so
 * the warm-up too: each one runs the per-machine first-time paths (profile, boot progress).
 */
export function warmMachines(plan: DhcpPlan, shape: Machine | undefined, count: number): Machine[] {
  const subnet = plan.subnets[0];
  if (!subnet) return [];
  const base: Machine = shape ?? syntheticMachine('', '', '');
  const hosts = Math.max(1, 2 ** (32 - subnet.network.prefix) - 2);
  const out: Machine[] = [];
  for (let i = 0; i < count; i++) {
    out.push({
      ...base,
      hostname: flat(`gatehouse-warmup-${i}`),
      ip: flat(formatIp(subnet.network.network + 1 + (i % hosts))),
      mac: flat(syntheticMac(0x5741_0000 + i)),
    });
  }
  return out;
}

/**
 * A flat copy of `s`: a concatenation of 13 characters or more is a rope in V8, a string read
 * from the store is flat, and code that met only ropes deoptimises on the first flat one.
 */
function flat(s: string): string {
  return Buffer.from(s, 'latin1').toString('latin1');
}

function request(ipxe: boolean, giaddr: Ip, type: MessageType, serverId: Ip): Buffer {
  const chaddr = new Uint8Array(16);
  const options: EncodeInput['options'] = [[OPT.MESSAGE_TYPE, u8Opt(MSG[type])]];
  if (type === 'REQUEST') {
    options.push([OPT.REQUESTED_IP, ipOpt(0)]);
    options.push([OPT.SERVER_ID, ipOpt(serverId)]);
  }
  options.push([OPT.MAX_MESSAGE_SIZE, Uint8Array.of(0x04, 0xec)]);
  options.push([OPT.CLIENT_ARCH, Uint8Array.of(0, 0)]);
  options.push([94, Uint8Array.of(1, 2, 1)]);
  options.push([97, new Uint8Array(17)]);
  options.push([OPT.VENDOR_CLASS, textOpt('PXEClient:Arch:00000:UNDI:002001')]);
  if (ipxe) {
    options.push([OPT.USER_CLASS, textOpt('iPXE')]);
    options.push([OPT.IPXE_ENCAP, Uint8Array.of(0x11, 1, 1, 0x13, 1, 1)]);
    options.push([OPT.CLIENT_ID, Uint8Array.of(1, 0, 0, 0, 0, 0, 0)]);
  }
  options.push([
    OPT.PARAM_REQUEST_LIST,
    Uint8Array.of(1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 43, 60, 66, 67, 175),
  ]);
  const bytes = encodePacket({
    op: BOOTREQUEST,
    htype: 1,
    hlen: 6,
    hops: giaddr ? 1 : 0,
    xid: 0,
    secs: 0,
    flags: 0x8000,
    ciaddr: 0,
    yiaddr: 0,
    siaddr: 0,
    giaddr,
    chaddr,
    sname: '',
    file: '',
    options,
  }).bytes;
  // As the raw socket reads it: the client's (or relay's) IP and UDP headers in front.
  return giaddr ? buildIpUdp(giaddr, giaddr, 67, 67, bytes) : buildIpUdp(0, IP_BROADCAST, 68, 67, bytes);
}

/** Offset of option `code`'s value in a frame built by `request` (-1: absent). */
function optionAt(frame: Buffer, code: number): number {
  let i = 28 + 240;
  while (i + 1 < frame.length && frame[i] !== OPT.END) {
    if (frame[i] === code) return i + 2;
    i += 2 + frame[i + 1]!;
  }
  return -1;
}

interface Template {
  frame: Buffer;
  requested: number;
  clientId: number;
}

/**
 * The requests of a boot storm as the server sees them: per round, a new machine of
 * `machines` (PXE DISCOVER + REQUEST, then iPXE DISCOVER + REQUEST) and, with the alien pool
 * enabled, an unknown one (a few cycled through, so the pool is never exhausted). Random 32-bit
 * xids, as ROMs use. With `giaddr`, as a relay agent forwards them (relay-only servers).
 */
export class WarmTraffic {
  private readonly templates: Template[] = [];
  private readonly aliens: number;
  private round = 0;
  /** The addresses of the machines of the last `frames` call (as TFTP reports them). */
  addresses: string[] = [];

  constructor(
    private readonly plan: DhcpPlan,
    private readonly machines: readonly Machine[],
    serverId: Ip,
    giaddr: Ip = 0,
  ) {
    for (const ipxe of [false, true])
      for (const type of ['DISCOVER', 'REQUEST'] as const) {
        const frame = request(ipxe, giaddr, type, serverId);
        this.templates.push({
          frame,
          requested: optionAt(frame, OPT.REQUESTED_IP),
          clientId: optionAt(frame, OPT.CLIENT_ID),
        });
      }
    this.aliens = plan.alien.enabled ? Math.max(1, Math.min(64, plan.alien.size - 1)) : 0;
  }

  /** Requests per round. */
  get size(): number {
    return (this.machines.length > 0 ? 4 : 0) + (this.aliens > 0 ? 4 : 0);
  }

  /** The next `rounds` rounds of frames (new buffers: the transport may keep views until it answered). */
  frames(rounds: number): Buffer[] {
    const out: Buffer[] = [];
    this.addresses = [];
    for (let r = 0; r < rounds; r++, this.round++) {
      if (this.machines.length > 0) {
        const m = this.machines[this.round % this.machines.length]!;
        this.exchange(m.mac, parseIp(m.ip) ?? 0, out);
        this.addresses.push(m.ip);
      }
      if (this.aliens > 0) {
        const i = this.round % this.aliens;
        // The twin's lease engine hands the pool out in order: alien i holds start + i.
        this.exchange(syntheticMac(0x4c49_0000 + i), this.plan.alien.start + i, out);
      }
    }
    return out;
  }

  private exchange(mac: string, address: Ip, out: Buffer[]): void {
    const chaddr = mac.split(':').map((h) => Number.parseInt(h, 16));
    // ROM xids are random 32-bit numbers: half of them are above 2^31 (no Smi in V8).
    const xid = (Math.random() * 0x1_0000_0000) >>> 0;
    for (const t of this.templates) {
      const f = Buffer.from(t.frame);
      f.writeUInt32BE(xid, XID_OFFSET);
      f.set(chaddr, 28 + 28);
      if (t.requested >= 0) f.writeUInt32BE(address >>> 0, t.requested);
      if (t.clientId >= 0) f.set(chaddr, t.clientId + 1);
      out.push(f);
    }
  }
}
