import type { NetworkConfig } from '../config/network.js';
import { GatehouseError } from '../errors.js';
import type { AnswerPolicy, TransferPeer } from './answer.js';
import { NetSet, ipv4ToInt } from './cidr.js';
import type { DnsConfig } from './config.js';
import { type Upstream, parseUpstream } from './forwarder.js';
import { canonicalName } from './names.js';
import type { NotifyTarget } from './notify.js';
import { type TsigKey, keyMap } from './tsig.js';

/** The config pieces DNS needs; plain data so it can be sent to cluster workers. */
export interface DnsRuntimeConfig {
  dns: DnsConfig;
  network: NetworkConfig;
}

/** Builds the answer policy; throws GH_CONFIG_INVALID for references that do not resolve. */
export function makePolicy(
  cfg: DnsRuntimeConfig,
  now: () => number = () => Math.floor(Date.now() / 1000),
): AnswerPolicy {
  const { dns, network } = cfg;
  const keys = keyMap(dns.tsigKeys);
  const peers: TransferPeer[] = dns.secondaries.map((s, i) => {
    const host = parseUpstream(s.address).host;
    return {
      ip: ipv4ToInt(host)!,
      key: resolveKey(keys, s.key, i),
      view: s.view,
      zones: s.zones.length > 0 ? new Set(s.zones.map((z) => canonicalName(z))) : undefined,
    };
  });
  return {
    alienClients: new NetSet(dns.alienClients.length > 0 ? dns.alienClients : [network.alien]),
    trusted: new NetSet(network.trusted),
    recursion: dns.upstreams.length > 0,
    maxUdp: dns.ednsUdpSize,
    tsigKeys: keys,
    peers,
    now,
  };
}

function resolveKey(keys: Map<string, TsigKey>, name: string | undefined, i: number): TsigKey | undefined {
  if (name === undefined) return undefined;
  const key = keys.get(canonicalName(name));
  if (!key) {
    throw new GatehouseError(
      'GH_CONFIG_INVALID',
      `dns.secondaries[${i}].key "${name}" is not defined in dns.tsigKeys; add the key or remove the reference`,
    );
  }
  return key;
}

export function upstreamsOf(dns: DnsConfig): Upstream[] {
  return dns.upstreams.map(parseUpstream);
}

export interface SecondaryTarget extends NotifyTarget {
  view: 'normal' | 'alien';
  zones: ReadonlySet<string> | undefined;
}

export function notifyTargets(dns: DnsConfig): SecondaryTarget[] {
  const keys = keyMap(dns.tsigKeys);
  return dns.secondaries.map((s, i) => {
    const u = parseUpstream(s.address);
    return {
      host: u.host,
      port: u.port,
      key: resolveKey(keys, s.key, i),
      view: s.view,
      zones: s.zones.length > 0 ? new Set(s.zones.map((z) => canonicalName(z))) : undefined,
    };
  });
}
