/**
 * Turns a decision into the reply message and where it goes (RFC 2131 §4.1, §4.3). Pure.
 */
import {
  BOOTREPLY,
  DEFAULT_MAX_MESSAGE,
  type EncodeInput,
  FLAG_BROADCAST,
  MSG,
  OPT,
  type OptionList,
} from './codec.js';
import { type Ip, IP_BROADCAST } from './ipv4.js';
import { encapsulate, ipOpt, textOpt, u8Opt, u32Opt } from './options.js';
import type { DhcpRequest } from './options.js';
import type { Nak, Profile, ReplyDecision } from './policy.js';

export type DestinationReason = 'relay' | 'ciaddr' | 'broadcast-flag' | 'nak' | 'no-arp-entry';

export interface Destination {
  ip: Ip;
  port: number;
  reason: DestinationReason;
}

export interface ReplyPlan {
  message: EncodeInput;
  /** Largest payload the client accepts (option 57, RFC 2132 §9.10). */
  maxSize: number;
  to: Destination;
}

export interface Ports {
  /** Where relay agents listen (RFC 2131 §4.1: the BOOTP server port, 67). */
  relay: number;
  client: number;
}

const NAK_TEXT: Record<Nak['reason'], string> = {
  'not-your-address': 'requested address is not assigned to this client',
  'not-in-pool': 'requested address is not in the pool for this client',
  'address-in-use': 'requested address is in use by another client',
  declined: 'requested address was declined and is quarantined',
  'wrong-network': 'requested address is not on this network',
  'no-offer': 'no offer for this client',
};

/** Option entries shared by every reply (read-only; encodePacket never mutates them). */
const TYPE_OPTIONS: Array<[number, Uint8Array]> = Array.from({ length: 9 }, (_, i) => [
  OPT.MESSAGE_TYPE,
  u8Opt(i),
]);
const serverIds = new Map<Ip, [number, Uint8Array]>();
function serverIdOption(id: Ip): [number, Uint8Array] {
  let o = serverIds.get(id);
  if (!o) {
    o = [OPT.SERVER_ID, ipOpt(id)];
    // A handful of interface addresses; the bound only guards against misuse.
    if (serverIds.size < 1024) serverIds.set(id, o);
  }
  return o;
}

/** A profile's options encoded once (profiles are shared and immutable, see policy.ts). */
interface EncodedProfile {
  lease: [number, Uint8Array];
  /** 1, 3, 6, 12, 15, 60 in reply order. */
  base: OptionList;
  tftpServer: Uint8Array;
  bootFile: Uint8Array;
  ipxe: Uint8Array | undefined;
}
const encodedProfiles = new WeakMap<Profile, EncodedProfile>();

function encodedProfile(profile: Profile): EncodedProfile {
  let e = encodedProfiles.get(profile);
  if (e) return e;
  const base: OptionList = [
    [OPT.SUBNET_MASK, ipOpt(profile.mask)],
    [OPT.ROUTER, ipOpt(profile.router)],
    [OPT.DNS, ipOpt(profile.dns)],
  ];
  if (profile.hostname) base.push([OPT.HOSTNAME, textOpt(profile.hostname)]);
  base.push([OPT.DOMAIN_NAME, textOpt(profile.domain)]);
  if (profile.httpClient) base.push([OPT.VENDOR_CLASS, textOpt('HTTPClient')]);
  e = {
    lease: [OPT.LEASE_TIME, u32Opt(profile.leaseTime)],
    base,
    tftpServer: textOpt(dotted(profile.nextServer)),
    bootFile: textOpt(profile.bootFile),
    ipxe:
      profile.ipxe.length > 0
        ? encapsulate(profile.ipxe.map(([code, v]) => [code, typeof v === 'number' ? u8Opt(v) : textOpt(v)]))
        : undefined,
  };
  encodedProfiles.set(profile, e);
  return e;
}

function profileOptions(profile: Profile, req: DhcpRequest, withLease: boolean, into: OptionList): void {
  const e = encodedProfile(profile);
  if (withLease) into.push(e.lease);
  for (const o of e.base) into.push(o);
  const asked = req.paramRequest;
  // PXE ROMs read siaddr/file; some UEFI firmware asks for 66/67 and reads only those.
  if (asked.includes(OPT.TFTP_SERVER_NAME)) into.push([OPT.TFTP_SERVER_NAME, e.tftpServer]);
  if (asked.includes(OPT.BOOTFILE_NAME)) into.push([OPT.BOOTFILE_NAME, e.bootFile]);
  // Spec §5.2: like ISC dhcpd, option 175 only to clients that ask for it (iPXE always does).
  if (e.ipxe && asked.includes(OPT.IPXE_ENCAP)) into.push([OPT.IPXE_ENCAP, e.ipxe]);
}

function dotted(v: Ip): string {
  return `${(v >>> 24) & 255}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
}

/** RFC 2131 §4.1, "If the 'giaddr' field … is zero and the 'ciaddr' field is nonzero …". */
function destination(req: DhcpRequest, isNak: boolean, ports: Ports): Destination {
  const p = req.packet;
  if (p.giaddr !== 0) return { ip: p.giaddr, port: ports.relay, reason: 'relay' };
  if (isNak) return { ip: IP_BROADCAST, port: ports.client, reason: 'nak' };
  if (p.ciaddr !== 0) return { ip: p.ciaddr, port: ports.client, reason: 'ciaddr' };
  if (p.flags & FLAG_BROADCAST) return { ip: IP_BROADCAST, port: ports.client, reason: 'broadcast-flag' };
  // The RFC prefers a unicast to chaddr/yiaddr, which needs an ARP entry for an address the
  // client does not answer for yet; without AF_PACKET we broadcast, which §4.1 allows.
  return { ip: IP_BROADCAST, port: ports.client, reason: 'no-arp-entry' };
}

export function buildReply(decision: ReplyDecision, req: DhcpRequest, serverId: Ip, ports: Ports): ReplyPlan {
  const p = req.packet;
  const isNak = decision.action === 'nak';
  const type = decision.action === 'offer' ? MSG.OFFER : isNak ? MSG.NAK : MSG.ACK;
  const options: OptionList = [TYPE_OPTIONS[type]!, serverIdOption(serverId)];
  let yiaddr = 0;
  let siaddr = 0;
  let file = '';
  let ciaddr = 0;
  if (decision.action === 'nak') {
    options.push([OPT.MESSAGE, textOpt(NAK_TEXT[decision.reason])]);
  } else {
    const inform = decision.case === 'inform';
    profileOptions(decision.profile, req, !inform, options);
    yiaddr = inform ? 0 : decision.yiaddr;
    siaddr = decision.profile.nextServer;
    file = decision.profile.bootFile;
    // RFC 2131 table 3: ciaddr of an ACK is the request's ciaddr (INFORM, RENEWING, REBINDING).
    if (decision.action === 'ack') ciaddr = p.ciaddr;
  }
  if (req.clientIdRaw) options.push([OPT.CLIENT_ID, req.clientIdRaw]);
  // RFC 3046 §2.2: relay agent information is echoed, last.
  if (req.relayAgentInfo) options.push([OPT.RELAY_AGENT_INFO, req.relayAgentInfo]);
  let flags = p.flags & FLAG_BROADCAST;
  // RFC 2131 §4.3.2: a NAK through a relay asks the relay to broadcast it to the client.
  if (isNak && p.giaddr !== 0) flags |= FLAG_BROADCAST;
  return {
    message: {
      op: BOOTREPLY,
      htype: p.htype,
      hlen: p.hlen,
      hops: 0,
      xid: p.xid,
      secs: 0,
      flags,
      ciaddr,
      yiaddr,
      siaddr,
      giaddr: p.giaddr,
      chaddr: p.chaddr,
      sname: '',
      file,
      options,
    },
    // Option 57 counts the whole IP datagram on most clients (iPXE sends 1472 = 1500 - 28, so
    // subtracting 28 again stays safe); never below the RFC minimum, never above one Ethernet frame.
    maxSize: Math.min(1472, Math.max(DEFAULT_MAX_MESSAGE, (req.maxMessageSize ?? 0) - 28)),
    to: destination(req, isNak, ports),
  };
}
