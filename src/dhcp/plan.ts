/**
 * The DHCP configuration compiled into numbers once (at start and on reload), so the packet
 * path never parses strings. Cross-field checks the schema cannot express live here.
 */
import type { GatehouseConfig } from '../config/index.js';
import { GatehouseError } from '../errors.js';
import { type Cidr, type Ip, broadcastOf, formatCidr, inCidr, ip, parseCidr, prefixMask } from './ipv4.js';

export interface BootChoice {
  bootFile: string;
  /** Architecture number -> boot file. */
  byArch: ReadonlyMap<number, string>;
  /** '' = do not chain iPXE. */
  ipxeChainUrl: string;
}

export interface KnownSubnet extends BootChoice {
  network: Cidr;
}

export interface AlienPool extends BootChoice {
  enabled: boolean;
  network: Cidr;
  gateway: Ip;
  mask: Ip;
  start: Ip;
  end: Ip;
  size: number;
  leaseTime: number;
  scriptlet: string;
}

export interface DhcpPlan {
  domain: string;
  /** The users + services segment (known machines see its mask). */
  lan: Cidr;
  lanMask: Ip;
  gateway: Ip;
  knownLeaseTime: number;
  subnets: readonly KnownSubnet[];
  alien: AlienPool;
  noPxeDhcp: boolean;
  ipxeDetect: boolean;
  offerHoldMs: number;
  declineHoldMs: number;
}

function invalid(msg: string): GatehouseError {
  return new GatehouseError('GH_CONFIG_INVALID', `dhcp: ${msg}`);
}

function archMap(m: Record<string, string>): Map<number, string> {
  return new Map(Object.entries(m).map(([k, v]) => [Number(k), v]));
}

export function buildPlan(config: GatehouseConfig): DhcpPlan {
  const { dhcp, network } = config;
  const lan = parseCidr(network.lan);
  const alienNet = parseCidr(network.alien);
  const gateway = ip(network.gateway);
  const alienGateway = ip(network.alienGateway);
  if (!inCidr(lan, gateway))
    throw invalid(`network.gateway ${network.gateway} is not inside network.lan ${network.lan}`);
  if (!inCidr(alienNet, alienGateway)) {
    throw invalid(
      `network.alienGateway ${network.alienGateway} is not inside network.alien ${network.alien}`,
    );
  }
  const chain = dhcp.ipxe.chainUrl;
  const subnets = dhcp.subnets.map((s): KnownSubnet => {
    const net = parseCidr(s.network);
    if (net.prefix < lan.prefix || !inCidr(lan, net.network)) {
      throw invalid(
        `subnet ${s.network} is not inside network.lan ${network.lan}; known machines get the lan mask`,
      );
    }
    return {
      network: net,
      bootFile: s.bootFile,
      byArch: archMap(s.archBootFiles),
      ipxeChainUrl: s.ipxeChainUrl ?? chain,
    };
  });
  const first = alienNet.network + 1;
  const last = broadcastOf(alienNet) - 1;
  const start = dhcp.alien.rangeStart ? ip(dhcp.alien.rangeStart) : first;
  const end = dhcp.alien.rangeEnd ? ip(dhcp.alien.rangeEnd) : Math.min(alienNet.network + 200, last);
  if (!inCidr(alienNet, start) || !inCidr(alienNet, end) || start > end) {
    throw invalid(
      `alien range must be inside network.alien ${formatCidr(alienNet)} with rangeStart <= rangeEnd`,
    );
  }
  if (alienGateway >= start && alienGateway <= end)
    throw invalid('the alien range must not contain network.alienGateway');
  for (const s of subnets) {
    if (inCidr(s.network, start) || inCidr(s.network, end) || inCidr(alienNet, s.network.network)) {
      throw invalid(`subnet ${formatCidr(s.network)} overlaps the alien network`);
    }
  }
  return {
    domain: network.domain,
    lan,
    lanMask: prefixMask(lan.prefix),
    gateway,
    knownLeaseTime: dhcp.leaseTime,
    subnets,
    alien: {
      enabled: dhcp.alien.enabled,
      network: alienNet,
      gateway: alienGateway,
      mask: prefixMask(alienNet.prefix),
      start,
      end,
      size: end - start + 1,
      leaseTime: dhcp.alien.leaseTime,
      scriptlet: dhcp.alien.scriptlet,
      bootFile: dhcp.alien.bootFile,
      byArch: archMap(dhcp.alien.archBootFiles),
      ipxeChainUrl: dhcp.alien.ipxeChainUrl ?? chain,
    },
    noPxeDhcp: dhcp.noPxeDhcp,
    ipxeDetect: dhcp.ipxe.detect,
    offerHoldMs: dhcp.offerHoldMs,
    declineHoldMs: dhcp.declineHoldS * 1000,
  };
}

export function knownSubnetOf(plan: DhcpPlan, addr: Ip): KnownSubnet | undefined {
  for (const s of plan.subnets) if (inCidr(s.network, addr)) return s;
  return undefined;
}

export function inAlienRange(plan: DhcpPlan, addr: Ip): boolean {
  return addr >= plan.alien.start && addr <= plan.alien.end;
}
