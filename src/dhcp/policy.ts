/**
 * What to answer (spec §5.2): request + MDB snapshot + lease view -> one annotated decision.
 * Pure: no I/O, no clock (`now` is an input), no mutation (lease changes come back as a
 * `LeaseOp` the server applies). Every case has its own decision type so tests and logs say
 * exactly which rule fired.
 */
import type { Machine } from '../mdb/model.js';
import { BOOTREQUEST } from './codec.js';
import type { HostLookup } from './hosts.js';
import { type Cidr, type Ip, inCidr, parseIp } from './ipv4.js';
import type { BindCheck, LeaseOp, OfferProposal } from './leases.js';
import type { DhcpRequest } from './options.js';
import { ARCH } from './options.js';
import { type BootChoice, type DhcpPlan, type KnownSubnet, inAlienRange, knownSubnetOf } from './plan.js';

/** The lease engine as the policy sees it: read-only questions. */
export interface LeaseView {
  proposeOffer(mac: string, requested: Ip | undefined, now: number): OfferProposal;
  canBind(addr: Ip, mac: string, now: number): BindCheck;
  ownerOf(addr: Ip, now: number): string | undefined;
}

export interface PolicyInput {
  req: DhcpRequest;
  now: number;
  /**
   * The served interface the request arrived on; undefined on the relay-only UDP socket, which
   * cannot tell and therefore answers relayed requests only.
   */
  iface: string | undefined;
  /** The request was sent to a broadcast address (tells REBINDING from RENEWING; logs only). */
  broadcast: boolean;
  /** Whether an address is one of this server's identifiers (option 54). */
  isServerId(addr: Ip): boolean;
}

/** Everything a client is told besides its address. Shared between requests: never mutate. */
export interface Profile {
  readonly who: 'known' | 'alien';
  /** The network whose gateway address identifies the server to this client. */
  readonly network: Cidr;
  readonly mask: Ip;
  readonly router: Ip;
  readonly dns: Ip;
  readonly nextServer: Ip;
  readonly domain: string;
  /** Option 12: the MDB hostname (known machines only). */
  readonly hostname: string | undefined;
  /** Seconds. */
  readonly leaseTime: number;
  readonly bootFile: string;
  /** Why this boot file: 'default', 'arch:<n>' or 'ipxe-chain'. */
  readonly bootReason: string;
  /** UEFI HTTP boot client: reply carries option 60 `HTTPClient` (UEFI spec §24.7). */
  readonly httpClient: boolean;
  /** iPXE sub-options of option 175 (sent only when the client asks for 175). */
  readonly ipxe: ReadonlyArray<readonly [code: number, value: string | number]>;
}

export type RequestState = 'selecting' | 'init-reboot' | 'renewing' | 'rebinding';

/** DHCPOFFER to a known machine: its MDB address (scenarios 33, 34). */
export interface KnownOffer {
  action: 'offer';
  case: 'known';
  yiaddr: Ip;
  profile: Profile;
  machine: string;
}
/** DHCPOFFER from the alien pool (scenario 35); `lease` holds the address for the offer. */
export interface AlienOffer {
  action: 'offer';
  case: 'alien';
  yiaddr: Ip;
  profile: Profile;
  why: Extract<OfferProposal, { ok: true }>['why'];
  lease: LeaseOp;
}
/** DHCPACK of a known machine's MDB address. */
export interface KnownAck {
  action: 'ack';
  case: 'known';
  state: RequestState;
  yiaddr: Ip;
  profile: Profile;
  machine: string;
}
/** DHCPACK of an alien lease; `lease` binds it. */
export interface AlienAck {
  action: 'ack';
  case: 'alien';
  state: RequestState;
  yiaddr: Ip;
  profile: Profile;
  lease: LeaseOp;
}
/** DHCPACK to DHCPINFORM (RFC 2131 §4.3.5): options only, no address, no lease time. */
export interface InformAck {
  action: 'ack';
  case: 'inform';
  profile: Profile;
}

export type NakReason =
  | 'not-your-address'
  | 'not-in-pool'
  | 'address-in-use'
  | 'declined'
  | 'wrong-network'
  | 'no-offer';
/** DHCPNAK: authoritative refusal of an address the client is not entitled to. */
export interface Nak {
  action: 'nak';
  reason: NakReason;
  state: RequestState;
  requested: Ip;
  /** The network the NAK speaks for (server identifier choice). */
  network: Cidr;
  lease?: LeaseOp;
}

export type DropReason =
  | 'not-a-request'
  | 'bootp-not-served'
  | 'not-ethernet'
  | 'not-relayed'
  | 'relay-network-not-served'
  | 'host-not-served'
  | 'unknown-client'
  | 'pool-exhausted'
  | 'probation'
  | 'other-server-chosen'
  | 'request-without-address'
  | 'server-message'
  | 'declined'
  | 'decline-not-owner'
  | 'fixed-address-declined'
  | 'released'
  | 'release-not-owner'
  | 'inform-without-address'
  | 'inform-not-served';
/** No reply; `lease` may still change (release, decline, dropped offer). */
export interface Drop {
  action: 'drop';
  reason: DropReason;
  lease?: LeaseOp;
  /** Extra facts for the log line. */
  detail?: Record<string, unknown>;
}

export type Decision = KnownOffer | AlienOffer | KnownAck | AlienAck | InformAck | Nak | Drop;
export type ReplyDecision = Exclude<Decision, Drop>;

function drop(reason: DropReason, extra: Omit<Drop, 'action' | 'reason'> = {}): Drop {
  return { action: 'drop', reason, ...extra };
}

/** The request comes from iPXE (user class `iPXE` or option 175), not from a PXE ROM. */
export function isIpxe(req: DhcpRequest): boolean {
  return req.ipxe !== undefined || req.userClasses.includes('iPXE');
}

/** Boot rule keys: a client architecture number (option 93), or one of these. */
const BOOT_DEFAULT = -1;
const BOOT_IPXE_CHAIN = -2;

/** Which boot rule applies, as a number (cheap cache key; nothing allocated per packet). */
function bootKey(plan: DhcpPlan, boot: BootChoice, req: DhcpRequest): number {
  if (plan.ipxeDetect && boot.ipxeChainUrl !== '' && isIpxe(req)) return BOOT_IPXE_CHAIN;
  for (const arch of req.clientArch) if (boot.byArch.has(arch)) return arch;
  return BOOT_DEFAULT;
}

function chooseBoot(boot: BootChoice, key: number): { file: string; reason: string; http: boolean } {
  if (key === BOOT_IPXE_CHAIN) return { file: boot.ipxeChainUrl, reason: 'ipxe-chain', http: false };
  if (key === BOOT_DEFAULT) return { file: boot.bootFile, reason: 'default', http: false };
  return { file: boot.byArch.get(key)!, reason: `arch:${key}`, http: key === ARCH.EFI_X64_HTTP };
}

/**
 * Profiles are immutable and shared: one per (plan, machine, boot rule), so the reply path can
 * cache their encoded options and the packet path allocates less (GC was a third of the CPU).
 * Memoising keeps these functions pure in effect: same inputs, same (identical) result.
 */
interface ProfileCache {
  alien: Map<number, Profile>;
  known: WeakMap<Machine, Map<number, Profile>>;
  /** A machine's parsed address and served subnet (null: not served). */
  served: WeakMap<Machine, { addr: Ip; subnet: KnownSubnet } | null>;
}
const profileCaches = new WeakMap<DhcpPlan, ProfileCache>();

function cacheOf(plan: DhcpPlan): ProfileCache {
  let c = profileCaches.get(plan);
  if (!c) {
    c = { alien: new Map(), known: new WeakMap(), served: new WeakMap() };
    profileCaches.set(plan, c);
  }
  return c;
}

export function knownProfile(
  plan: DhcpPlan,
  subnet: KnownSubnet,
  machine: Machine,
  req: DhcpRequest,
): Profile {
  const key = bootKey(plan, subnet, req);
  const cache = cacheOf(plan).known;
  let byBoot = cache.get(machine);
  if (!byBoot) {
    byBoot = new Map();
    cache.set(machine, byBoot);
  }
  let profile = byBoot.get(key);
  if (!profile) {
    const boot = chooseBoot(subnet, key);
    profile = {
      who: 'known',
      network: plan.lan,
      mask: plan.lanMask,
      router: plan.gateway,
      dns: plan.gateway,
      nextServer: plan.gateway,
      domain: plan.domain,
      hostname: machine.hostname,
      leaseTime: plan.knownLeaseTime,
      bootFile: boot.file,
      bootReason: boot.reason,
      httpClient: boot.http,
      ipxe: plan.noPxeDhcp ? [[176, 1]] : [],
    };
    byBoot.set(key, profile);
  }
  return profile;
}

export function alienProfile(plan: DhcpPlan, req: DhcpRequest): Profile {
  const a = plan.alien;
  const key = bootKey(plan, a, req);
  const cache = cacheOf(plan).alien;
  let profile = cache.get(key);
  if (!profile) {
    const boot = chooseBoot(a, key);
    const ipxe: Array<[number, string | number]> = [];
    if (plan.noPxeDhcp) ipxe.push([176, 1]);
    if (a.scriptlet !== '') ipxe.push([81, a.scriptlet]);
    profile = {
      who: 'alien',
      network: a.network,
      mask: a.mask,
      router: a.gateway,
      dns: a.gateway,
      nextServer: a.gateway,
      domain: plan.domain,
      hostname: undefined,
      leaseTime: a.leaseTime,
      bootFile: boot.file,
      bootReason: boot.reason,
      httpClient: boot.http,
      ipxe,
    };
    cache.set(key, profile);
  }
  return profile;
}

/** The served known subnet of a machine, or undefined (cluster, IPv6, outside every subnet: ignored). */
function servedSubnet(plan: DhcpPlan, m: Machine): { addr: Ip; subnet: KnownSubnet } | undefined {
  const cache = cacheOf(plan).served;
  let served = cache.get(m);
  if (served === undefined) {
    const addr = parseIp(m.ip);
    const subnet = addr === undefined ? undefined : knownSubnetOf(plan, addr);
    served = addr !== undefined && subnet ? { addr, subnet } : null;
    cache.set(m, served);
  }
  return served ?? undefined;
}

function requestState(req: DhcpRequest, broadcast: boolean): RequestState | undefined {
  if (req.serverId !== undefined) return 'selecting';
  if (req.requestedIp !== undefined && req.packet.ciaddr === 0) return 'init-reboot';
  if (req.packet.ciaddr !== 0) return broadcast ? 'rebinding' : 'renewing';
  return undefined;
}

export function decide(plan: DhcpPlan, hosts: HostLookup, leases: LeaseView, input: PolicyInput): Decision {
  const { req } = input;
  const p = req.packet;
  if (p.op !== BOOTREQUEST) return drop('not-a-request');
  if (req.type === undefined) return drop('bootp-not-served');
  const mac = req.mac;
  if (mac === undefined) return drop('not-ethernet', { detail: { htype: p.htype, hlen: p.hlen } });
  if (p.giaddr !== 0) {
    // RFC 2131 §4.3.1: the relay's address names the client's network.
    if (!inCidr(plan.lan, p.giaddr) && !inCidr(plan.alien.network, p.giaddr))
      return drop('relay-network-not-served');
  } else if (input.iface === undefined) {
    return drop('not-relayed');
  }
  switch (req.type) {
    case 'DISCOVER':
      return discover(plan, hosts, leases, input, mac);
    case 'REQUEST':
      return request(plan, hosts, leases, input, mac);
    case 'DECLINE':
      return decline(plan, hosts, leases, input, mac);
    case 'RELEASE':
      return release(leases, input, mac);
    case 'INFORM':
      return inform(plan, hosts, input, mac);
    default:
      return drop('server-message', { detail: { type: req.type } });
  }
}

function discover(
  plan: DhcpPlan,
  hosts: HostLookup,
  leases: LeaseView,
  input: PolicyInput,
  mac: string,
): Decision {
  const { req, now } = input;
  const machine = hosts.byMac(mac);
  if (machine) {
    const served = servedSubnet(plan, machine);
    // Spec §5.2: a known machine outside the served subnets (the cluster) gets nothing from us.
    if (!served) return drop('host-not-served', { detail: { host: machine.hostname, ip: machine.ip } });
    return {
      action: 'offer',
      case: 'known',
      yiaddr: served.addr,
      profile: knownProfile(plan, served.subnet, machine, req),
      machine: machine.hostname,
    };
  }
  if (!plan.alien.enabled) return drop('unknown-client');
  const proposal = leases.proposeOffer(mac, req.requestedIp, now);
  if (!proposal.ok) return drop(proposal.why === 'exhausted' ? 'pool-exhausted' : 'probation');
  return {
    action: 'offer',
    case: 'alien',
    yiaddr: proposal.ip,
    profile: alienProfile(plan, req),
    why: proposal.why,
    lease: { op: 'hold', ip: proposal.ip, mac, until: now + plan.offerHoldMs },
  };
}

function request(
  plan: DhcpPlan,
  hosts: HostLookup,
  leases: LeaseView,
  input: PolicyInput,
  mac: string,
): Decision {
  const { req, now } = input;
  const state = requestState(req, input.broadcast);
  if (state === undefined) return drop('request-without-address');
  if (state === 'selecting') {
    // RFC 2131 §4.3.2: a REQUEST naming another server means the client declined our offer.
    if (!input.isServerId(req.serverId!))
      return drop('other-server-chosen', { lease: { op: 'unhold', mac } });
    if (req.requestedIp === undefined) return drop('request-without-address');
  }
  const requested = state === 'selecting' || state === 'init-reboot' ? req.requestedIp! : req.packet.ciaddr;
  const machine = hosts.byMac(mac);
  if (machine) {
    const served = servedSubnet(plan, machine);
    if (!served) return drop('host-not-served', { detail: { host: machine.hostname, ip: machine.ip } });
    // Scenario 36: a machine registered while it held an alien lease is refused that lease, and
    // its next DISCOVER gets the fixed address.
    if (requested !== served.addr) return nakOf('not-your-address', state, requested, plan.lan);
    return {
      action: 'ack',
      case: 'known',
      state,
      yiaddr: served.addr,
      profile: knownProfile(plan, served.subnet, machine, req),
      machine: machine.hostname,
    };
  }
  const network = plan.alien.network;
  if (!plan.alien.enabled)
    return inCidr(plan.lan, requested)
      ? nakOf('not-your-address', state, requested, plan.lan)
      : drop('unknown-client');
  if (!inAlienRange(plan, requested)) {
    const reason =
      inCidr(network, requested) || inCidr(plan.lan, requested) ? 'not-in-pool' : 'wrong-network';
    return nakOf(reason, state, requested, network);
  }
  const check = leases.canBind(requested, mac, now);
  if (!check.ok)
    return nakOf(check.why === 'not-in-pool' ? 'not-in-pool' : check.why, state, requested, network);
  return {
    action: 'ack',
    case: 'alien',
    state,
    yiaddr: requested,
    profile: alienProfile(plan, req),
    lease: {
      op: 'bind',
      ip: requested,
      mac,
      clientId: req.clientId ?? null,
      hostname: req.hostname ?? null,
      expires: now + plan.alien.leaseTime * 1000,
    },
  };
}

function nakOf(reason: NakReason, state: RequestState, requested: Ip, network: Cidr): Nak {
  return { action: 'nak', reason, state, requested, network };
}

function decline(
  plan: DhcpPlan,
  hosts: HostLookup,
  leases: LeaseView,
  input: PolicyInput,
  mac: string,
): Decision {
  const { req, now } = input;
  if (req.serverId !== undefined && !input.isServerId(req.serverId)) return drop('other-server-chosen');
  const addr = req.requestedIp;
  if (addr === undefined) return drop('request-without-address');
  const machine = hosts.byMac(mac);
  if (machine && parseIp(machine.ip) === addr) {
    // Someone else answers ARP for a fixed address: an operator must look; nothing to reassign.
    return drop('fixed-address-declined', { detail: { host: machine.hostname } });
  }
  // Only the holder may decline, or any host could empty the pool with forged DECLINEs.
  if (leases.ownerOf(addr, now) !== mac) return drop('decline-not-owner');
  return drop('declined', { lease: { op: 'decline', ip: addr, mac, until: now + plan.declineHoldMs } });
}

function release(leases: LeaseView, input: PolicyInput, mac: string): Decision {
  const { req, now } = input;
  if (req.serverId !== undefined && !input.isServerId(req.serverId)) return drop('other-server-chosen');
  const addr = req.packet.ciaddr;
  if (addr === 0 || leases.ownerOf(addr, now) !== mac) return drop('release-not-owner');
  return drop('released', { lease: { op: 'release', ip: addr, mac } });
}

function inform(plan: DhcpPlan, hosts: HostLookup, input: PolicyInput, mac: string): Decision {
  const { req } = input;
  const addr = req.packet.ciaddr;
  if (addr === 0) return drop('inform-without-address');
  const machine = hosts.byMac(mac);
  const served = machine ? servedSubnet(plan, machine) : undefined;
  if (machine && served && served.addr === addr) {
    return { action: 'ack', case: 'inform', profile: knownProfile(plan, served.subnet, machine, req) };
  }
  if (inCidr(plan.alien.network, addr))
    return { action: 'ack', case: 'inform', profile: alienProfile(plan, req) };
  return drop('inform-not-served');
}
