/**
 * Runs the packet path's pure stages — IP/UDP parse, decode, read, decide, build, encode, the
 * IP/UDP headers of the reply — on synthetic PXE and iPXE DISCOVERs and REQUESTs at start, so
 * V8 has compiled them before the first storm.
 *
 * Why: a fresh server meets a boot storm's first 1000 DISCOVERs with interpreted code. Measured
 * in bench/bootstorm (issue 13, first storm after start, busy box): the first 64 datagrams took
 * 80 ms and the next batches 36 ms each, the overload guard took that for the server's rate and
 * shed 800 DISCOVERs, which the ROMs only repeated 4 s later. The lone warm-up machine the bench
 * boots first (one DORA) compiles nothing: V8 optimises a function after many calls.
 *
 * Nothing real is touched: a throwaway lease engine and host map, nothing sent, counted, logged
 * or persisted.
 */
import {
  BOOTREQUEST,
  type EncodeInput,
  MSG,
  type MessageType,
  OPT,
  decodePacket,
  encodePacket,
} from './codec.js';
import { HostMap } from './hosts.js';
import { frameWithHeaders, parseIpUdp, udpDstPort, buildIpUdp } from './ip-udp.js';
import { IP_BROADCAST, type Ip, formatIp } from './ipv4.js';
import { LeaseEngine } from './leases.js';
import { ipOpt, readRequest, textOpt, u8Opt } from './options.js';
import type { DhcpPlan } from './plan.js';
import { decide } from './policy.js';
import { buildReply } from './reply.js';

/** Room for the IPv4 + UDP headers in front of a reply (as the server encodes it). */
const HEADROOM = 28;

interface WarmClient {
  mac: string;
  chaddr: Uint8Array;
  ipxe: boolean;
}

function request(c: WarmClient, type: MessageType, xid: number, serverId?: Ip, requested?: Ip): Buffer {
  const options: EncodeInput['options'] = [[OPT.MESSAGE_TYPE, u8Opt(MSG[type])]];
  if (requested !== undefined) options.push([OPT.REQUESTED_IP, ipOpt(requested)]);
  if (serverId !== undefined) options.push([OPT.SERVER_ID, ipOpt(serverId)]);
  options.push([OPT.MAX_MESSAGE_SIZE, Uint8Array.of(0x04, 0xec)]);
  options.push([OPT.CLIENT_ARCH, Uint8Array.of(0, 0)]);
  options.push([94, Uint8Array.of(1, 2, 1)]);
  options.push([97, new Uint8Array(17)]);
  options.push([OPT.VENDOR_CLASS, textOpt('PXEClient:Arch:00000:UNDI:002001')]);
  if (c.ipxe) {
    options.push([OPT.USER_CLASS, textOpt('iPXE')]);
    options.push([OPT.IPXE_ENCAP, Uint8Array.of(0x11, 1, 1, 0x13, 1, 1)]);
    options.push([OPT.CLIENT_ID, Uint8Array.of(1, ...c.chaddr.subarray(0, 6))]);
  }
  options.push([
    OPT.PARAM_REQUEST_LIST,
    Uint8Array.of(1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 43, 60, 66, 67, 175),
  ]);
  const bytes = encodePacket({
    op: BOOTREQUEST,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid,
    secs: 0,
    flags: 0x8000,
    ciaddr: 0,
    yiaddr: 0,
    siaddr: 0,
    giaddr: 0,
    chaddr: c.chaddr,
    sname: '',
    file: '',
    options,
  }).bytes;
  // As the raw socket reads it: the client's IP and UDP headers in front.
  return buildIpUdp(0, IP_BROADCAST, 68, 67, bytes);
}

/**
 * One request through every stage; returns the reply's frame length (0: no reply), so the work
 * cannot be optimised away.
 */
function once(
  plan: DhcpPlan,
  hosts: HostMap,
  engine: LeaseEngine,
  frame: Buffer,
  iface: string,
  serverId: Ip,
  now: number,
): number {
  if (udpDstPort(frame) !== 67) return 0;
  const parsed = parseIpUdp(frame);
  if (!parsed.ok) return 0;
  const decoded = decodePacket(parsed.datagram.payload);
  if (!decoded.ok) return 0;
  const read = readRequest(decoded.packet);
  if (!read.ok) return 0;
  const decision = decide(plan, hosts, engine, {
    req: read.request,
    now,
    iface,
    broadcast: parsed.datagram.dst === IP_BROADCAST,
    isServerId: (a) => a === serverId,
  });
  if (decision.action === 'drop') return 0;
  const reply = buildReply(decision, read.request, serverId, { relay: 67, client: 68 });
  const encoded = encodePacket(reply.message, { maxSize: reply.maxSize, headroom: HEADROOM });
  return frameWithHeaders(encoded.bytes, HEADROOM, serverId, reply.to.ip, 67, reply.to.port).length;
}

/**
 * `rounds` × (PXE and iPXE DISCOVER + REQUEST of a known machine, and of an alien when the pool
 * is enabled). Returns the milliseconds it took.
 */
export function warmHotPath(plan: DhcpPlan, rounds = 500, now = Date.now()): number {
  const t0 = performance.now();
  const subnet = plan.subnets[0];
  const serverId = plan.gateway;
  const clients: Array<{ frames: Buffer[] }> = [];
  const machines = [];
  const known = subnet ? subnet.network.network + 1 : undefined;
  for (const [i, ipxe] of [
    [0, false],
    [0, true],
    [1, false],
    [1, true],
  ] as const) {
    // Locally administered unicast MACs no real machine is expected to have.
    const chaddr = new Uint8Array(16);
    chaddr.set([0xfe, 0x57, 0x41, 0x52, 0x4d, i]);
    const mac = Array.from(chaddr.subarray(0, 6), (b) => b.toString(16).padStart(2, '0')).join(':');
    const isKnown = i === 0;
    if (isKnown && known === undefined) continue;
    if (!isKnown && !plan.alien.enabled) continue;
    if (isKnown && !ipxe)
      machines.push({
        hostname: 'gatehouse-warmup',
        aliases: '',
        ip: formatIp(known!),
        mac,
        rfs: 0,
        hfs: 0,
        mtype: 'user' as const,
        room: 'other' as const,
        is_faulty: false,
        is_faulty_details: '',
      });
    const c: WarmClient = { mac, chaddr, ipxe };
    const offered = isKnown ? known! : plan.alien.start;
    clients.push({
      frames: [
        request(c, 'DISCOVER', 0x5741524d + i),
        request(c, 'REQUEST', 0x5741524e + i, serverId, offered),
      ],
    });
  }
  const hosts = HostMap.fixed(machines);
  const engine = new LeaseEngine({ start: plan.alien.start, end: plan.alien.end }, { persist() {} });
  let bytes = 0;
  for (let r = 0; r < rounds; r++) {
    for (const c of clients)
      for (const f of c.frames) bytes += once(plan, hosts, engine, f, 'warmup', serverId, now);
  }
  if (bytes === 0 && clients.length > 0) throw new Error('dhcp warm-up: no reply built');
  return performance.now() - t0;
}
