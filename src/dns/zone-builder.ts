import { isIPv4, isIPv6 } from 'node:net';
import type { NetworkConfig } from '../config/network.js';
import type { Machine } from '../mdb/model.js';
import { ipv4ToInt, parseCidr, reverseZone24, reverseZones24 } from './cidr.js';
import type { DnsConfig, StaticRecordConfig } from './config.js';
import { RRClass, RRType } from './constants.js';
import { canonicalName, isInZone, qualify } from './names.js';
import { type RData, type ResourceRecord, recordKey } from './records.js';
import { type ViewName, type ZoneContent, finishZone, zoneId } from './zone.js';

/** Spec §4.2: every generated record and the negative-caching TTL are 10 s. */
export const ZONE_TTL = 10;
const SOA_TIMERS = { refresh: 1200, retry: 60, expire: 360000, minimum: 10 };

export interface BuildInput {
  machines: readonly Machine[];
  network: NetworkConfig;
  dns: Pick<DnsConfig, 'bootstrapNames' | 'static' | 'localZones'>;
}

export interface BuildResult {
  zones: ZoneContent[];
  /** Names or records skipped because they cannot be published (bad name, bad IP, out of zone). */
  warnings: string[];
}

/** A record with its text key (computed once; the key drives dedupe, order and hash). */
interface Keyed {
  rr: ResourceRecord;
  key: string;
}

interface Draft {
  name: string;
  view: ViewName;
  generated: boolean;
  ttl: number;
  soa: ZoneContent['soa'];
  records: Keyed[];
}

/** What one machine publishes; cached by the fields DNS reads (hostname, aliases, ip). */
interface MachineRecords {
  forward: Keyed[];
  ptr: { zone: string; rec: Keyed } | undefined;
  warnings: string[];
}

/** The parts that depend only on configuration (alien PTRs, local zones), cached per config. */
interface FixedParts {
  configKey: string;
  alienPtr: Map<string, Keyed[]>;
  local: Draft[];
}

function keyed(rr: ResourceRecord): Keyed {
  return { rr, key: recordKey(rr) };
}

/**
 * Turns the machine table and the network plan into the zones of spec §4.3/§4.4. Same input,
 * same zones (and hashes). PTR records are placed by the machine's actual IP (§17 "SHOULD
 * choose by IP"), which gives the original's records for every pool-allocated address.
 */
export function buildZones(input: BuildInput): BuildResult {
  return new ZoneBuilder().build(input);
}

/**
 * The zone builder with memory: a rebuild after one machine changed reuses every other
 * machine's records and the config-only parts, so rebuilding 1000 machines costs little more
 * than dedupe, sort and hash (the commit-to-answer path of spec §4.1).
 */
export class ZoneBuilder {
  private machineCache = new Map<string, MachineRecords>();
  private fixed: FixedParts | undefined;

  build(input: BuildInput): BuildResult {
    const { network } = input;
    const warnings: string[] = [];
    const domain = canonicalName(network.domain);
    const ns = qualify('ns', domain);
    const soa = { mname: ns, rname: qualify('hostmaster', ns), ...SOA_TIMERS };
    const mk = (name: string, view: ViewName, generated = true): Draft => ({
      name,
      view,
      generated,
      ttl: ZONE_TTL,
      soa,
      records: [
        keyed({
          name,
          type: RRType.NS,
          class: RRClass.IN,
          ttl: ZONE_TTL,
          data: { kind: 'name', target: ns },
        }),
      ],
    });

    const normalForward = mk(domain, 'normal');
    const alienForward = mk(domain, 'alien');
    const reverse = new Map<string, Draft>();
    for (const cidr of [network.lan, network.cluster, network.alien]) {
      for (const z of reverseZones24(parseCidr(cidr))) if (!reverse.has(z)) reverse.set(z, mk(z, 'normal'));
    }

    // §4.3.1 forward records and §4.3.3-5 PTRs, per machine, from the cache when unchanged.
    const nextCache = new Map<string, MachineRecords>();
    for (const m of input.machines) {
      const sig = `${m.hostname}\u0000${m.aliases}\u0000${m.ip}\u0000${domain}`;
      let mr = nextCache.get(sig) ?? this.machineCache.get(sig);
      if (!mr) mr = machineRecords(m, domain);
      nextCache.set(sig, mr);
      for (const w of mr.warnings) warnings.push(w);
      for (const k of mr.forward) normalForward.records.push(k);
      if (mr.ptr) reverse.get(mr.ptr.zone)?.records.push(mr.ptr.rec);
    }
    this.machineCache = nextCache;

    const fixed = this.fixedParts(input, domain);
    for (const [zone, recs] of fixed.alienPtr) {
      const draft = reverse.get(zone)!;
      for (const k of recs) draft.records.push(k);
    }

    // §4.3.2: the alien view knows only netboot and ns, both at the gateway's alien address.
    for (const n of ['netboot', 'ns']) {
      alienForward.records.push(
        keyed({
          name: qualify(n, domain),
          type: RRType.A,
          class: RRClass.IN,
          ttl: ZONE_TTL,
          data: { kind: 'a', address: network.alienGateway },
        }),
      );
    }

    const normalZones: Draft[] = [normalForward, ...reverse.values()];
    if (input.dns.localZones)
      normalZones.push(...fixed.local.map((d) => ({ ...d, records: [...d.records] })));
    const alienZones: Draft[] = [alienForward];

    // The gw:/etc/hosts bootstrap, then operator static records.
    const statics: StaticRecordConfig[] = [
      ...input.dns.bootstrapNames.map((name) => ({
        name,
        type: 'A' as const,
        value: network.gateway,
        view: 'normal' as const,
        mode: 'fallback' as const,
      })),
      ...input.dns.static,
    ];
    for (const s of statics) {
      const views: Draft[][] =
        s.view === 'both' ? [normalZones, alienZones] : s.view === 'alien' ? [alienZones] : [normalZones];
      const rr = staticToRecord(s, domain, warnings);
      if (!rr) continue;
      for (const zones of views) {
        const zone = longestZone(zones, rr.name);
        if (!zone) {
          warnings.push(
            `static record ${s.name} ${s.type}: ${rr.name} is in none of the served zones; skipped`,
          );
          continue;
        }
        if (
          s.mode === 'fallback' &&
          zone.records.some((r) => r.rr.name === rr.name && r.rr.type !== RRType.NS)
        )
          continue;
        zone.records.push(keyed(rr));
      }
    }

    const zones = [...normalZones, ...alienZones].map((d) =>
      finishZone({ ...d, id: zoneId(d.view, d.name) }),
    );
    return { zones, warnings };
  }

  private fixedParts(input: BuildInput, domain: string): FixedParts {
    const { network } = input;
    const configKey = JSON.stringify([network.alien, network.alienGateway, domain]);
    if (this.fixed?.configKey === configKey) return this.fixed;
    // §4.3.6: the alien reverse zone names every address unknown-N, the gateway gw.alien.
    const alienPtr = new Map<string, Keyed[]>();
    const alienNet = parseCidr(network.alien);
    const alienGw = ipv4ToInt(network.alienGateway);
    const alienDomain = qualify('alien', domain);
    const broadcast = (alienNet.base | (~alienNet.mask >>> 0)) >>> 0;
    for (let ip = alienNet.base + 1; ip < broadcast; ip++) {
      const zone = reverseZone24(ip);
      const target =
        ip === alienGw ? qualify('gw', alienDomain) : qualify(`unknown-${ip & 255}`, alienDomain);
      const list = alienPtr.get(zone) ?? [];
      list.push(
        keyed({
          name: `${ip & 255}.${zone}`,
          type: RRType.PTR,
          class: RRClass.IN,
          ttl: ZONE_TTL,
          data: { kind: 'name', target },
        }),
      );
      alienPtr.set(zone, list);
    }
    this.fixed = { configKey, alienPtr, local: localZones() };
    return this.fixed;
  }
}

function machineRecords(m: Machine, domain: string): MachineRecords {
  const out: MachineRecords = { forward: [], ptr: undefined, warnings: [] };
  const v4 = isIPv4(m.ip);
  if (!v4 && !isIPv6(m.ip)) {
    out.warnings.push(`machine ${m.hostname}: ip "${m.ip}" is not an address; no records`);
    return out;
  }
  // §4.3.1: hostname and each alias → A (AAAA for an IPv6 address; the original had none).
  const data: RData = v4 ? { kind: 'a', address: m.ip } : { kind: 'aaaa', address: m.ip };
  const names = [m.hostname, ...m.aliases.split(',')].map((n) => n.trim()).filter((n) => n !== '');
  for (const raw of names) {
    const fqdn = safeName(qualify(raw.toLowerCase(), domain), out.warnings, `machine ${m.hostname}`);
    if (fqdn === undefined) continue;
    out.forward.push(
      keyed({ name: fqdn, type: v4 ? RRType.A : RRType.AAAA, class: RRClass.IN, ttl: ZONE_TTL, data }),
    );
  }
  const ip = v4 ? ipv4ToInt(m.ip) : undefined;
  const host = safeName(qualify(m.hostname.trim().toLowerCase(), domain), [], '');
  if (ip !== undefined && host) {
    const zone = reverseZone24(ip);
    out.ptr = {
      zone,
      rec: keyed({
        name: `${ip & 255}.${zone}`,
        type: RRType.PTR,
        class: RRClass.IN,
        ttl: ZONE_TTL,
        data: { kind: 'name', target: host },
      }),
    };
  }
  return out;
}

function longestZone(zones: Draft[], name: string): Draft | undefined {
  let best: Draft | undefined;
  for (const z of zones) if (isInZone(name, z.name) && (!best || z.name.length > best.name.length)) best = z;
  return best;
}

function safeName(name: string, warnings: string[], what: string): string | undefined {
  try {
    return canonicalName(name);
  } catch (e) {
    warnings.push(`${what}: cannot publish "${name}": ${(e as Error).message}`);
    return undefined;
  }
}

/** Static records: values in master-file presentation, names relative to the domain. */
export function staticToRecord(
  s: StaticRecordConfig,
  domain: string,
  warnings: string[],
): ResourceRecord | undefined {
  const name = safeName(qualify(s.name, domain), warnings, `static record ${s.name}`);
  if (name === undefined) return undefined;
  const rel = (n: string) => canonicalName(qualify(n, domain));
  const fail = (why: string) => {
    warnings.push(`static record ${s.name} ${s.type} "${s.value}": ${why}; skipped`);
    return undefined;
  };
  const base = { name, class: RRClass.IN, ttl: ZONE_TTL };
  const v = s.value.trim();
  try {
    switch (s.type) {
      case 'A':
        return isIPv4(v)
          ? { ...base, type: RRType.A, data: { kind: 'a', address: v } }
          : fail('not an IPv4 address');
      case 'AAAA':
        return isIPv6(v)
          ? { ...base, type: RRType.AAAA, data: { kind: 'aaaa', address: v } }
          : fail('not an IPv6 address');
      case 'PTR':
        return { ...base, type: RRType.PTR, data: { kind: 'name', target: rel(v) } };
      case 'MX': {
        const m = /^(\d{1,5})\s+(\S+)$/.exec(v);
        if (!m || Number(m[1]) > 65535) return fail('expected "<preference> <exchange>"');
        return {
          ...base,
          type: RRType.MX,
          data: { kind: 'mx', preference: Number(m[1]), exchange: rel(m[2]!) },
        };
      }
      case 'SRV': {
        const m = /^(\d{1,5})\s+(\d{1,5})\s+(\d{1,5})\s+(\S+)$/.exec(v);
        if (!m || [m[1], m[2], m[3]].some((x) => Number(x) > 65535))
          return fail('expected "<priority> <weight> <port> <target>"');
        return {
          ...base,
          type: RRType.SRV,
          data: {
            kind: 'srv',
            priority: Number(m[1]),
            weight: Number(m[2]),
            port: Number(m[3]),
            target: rel(m[4]!),
          },
        };
      }
      case 'TXT': {
        const strings = parseTxt(v);
        if (!strings) return fail('expected quoted strings of at most 255 bytes each');
        return { ...base, type: RRType.TXT, data: { kind: 'txt', strings } };
      }
    }
  } catch (e) {
    return fail((e as Error).message);
  }
}

/** `"a b" "c"` or a bare word → character-strings. */
function parseTxt(v: string): Buffer[] | undefined {
  if (!v.startsWith('"')) return Buffer.byteLength(v) <= 255 ? [Buffer.from(v)] : undefined;
  const out: Buffer[] = [];
  const re = /"((?:[^"\\]|\\.)*)"\s*/gy;
  let consumed = 0;
  for (let m = re.exec(v); m; m = re.exec(v)) {
    const s = Buffer.from(m[1]!.replace(/\\(.)/g, '$1'));
    if (s.length > 255) return undefined;
    out.push(s);
    consumed = re.lastIndex;
  }
  return consumed === v.length ? out : undefined;
}

/** §4.4 normal view: `localhost` and the 0/127/255 reverse zones of Debian's named.conf.default-zones. */
function localZones(): Draft[] {
  const soa = {
    mname: 'localhost',
    rname: 'root.localhost',
    refresh: 604800,
    retry: 86400,
    expire: 2419200,
    minimum: 604800,
  };
  const ttl = 604800;
  const zone = (name: string, extra: ResourceRecord[]): Draft => ({
    name,
    view: 'normal',
    generated: false,
    ttl,
    soa,
    records: [
      {
        name,
        type: RRType.NS,
        class: RRClass.IN,
        ttl,
        data: { kind: 'name', target: 'localhost' },
      } as ResourceRecord,
      ...extra,
    ].map(keyed),
  });
  return [
    zone('localhost', [
      {
        name: 'localhost',
        type: RRType.A,
        class: RRClass.IN,
        ttl,
        data: { kind: 'a', address: '127.0.0.1' },
      },
    ]),
    zone('127.in-addr.arpa', [
      {
        name: '1.0.0.127.in-addr.arpa',
        type: RRType.PTR,
        class: RRClass.IN,
        ttl,
        data: { kind: 'name', target: 'localhost' },
      },
    ]),
    zone('0.in-addr.arpa', []),
    zone('255.in-addr.arpa', []),
  ];
}
