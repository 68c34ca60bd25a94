import { createHash } from 'node:crypto';
import { RRType } from './constants.js';
import { type ResourceRecord, type SoaFields, recordKey, soaRecord } from './records.js';

export type ViewName = 'normal' | 'alien';
export const VIEWS: readonly ViewName[] = ['normal', 'alien'];

/**
 * A zone's content without its serial: what the builder produces from MDB and config. The
 * serial is assigned separately (serials.ts) from the content hash, so an unchanged zone keeps
 * its serial across rebuilds and restarts.
 */
export interface ZoneContent {
  /** Canonical apex name. */
  name: string;
  view: ViewName;
  /** `<view>/<name>`: key of the serial row and of logs. */
  id: string;
  /** Built from MDB (serial bumped on MDB commits in `all-zones` mode; transferred by default). */
  generated: boolean;
  ttl: number;
  soa: Omit<SoaFields, 'serial'>;
  /** Every record but the SOA, canonical names, deduplicated, in a stable order. */
  records: ResourceRecord[];
  /** Hash of SOA fields (minus serial) and records. */
  hash: string;
}

export interface Zone extends ZoneContent {
  serial: number;
}

export function zoneId(view: ViewName, name: string): string {
  return `${view}/${name === '' ? '.' : name}`;
}

export function zoneSoa(zone: Zone): ResourceRecord {
  return soaRecord(zone.name, zone.ttl, { ...zone.soa, serial: zone.serial });
}

/**
 * Dedupes records, puts them in a stable order (by their text form) and computes the content
 * hash. Runs on every rebuild, so it sorts plain strings only; master files re-sort for reading.
 */
export function finishZone(
  partial: Omit<ZoneContent, 'hash' | 'records'> & {
    records: ReadonlyArray<{ rr: ResourceRecord; key: string }>;
  },
): ZoneContent {
  const byKey = new Map<string, ResourceRecord>();
  for (const { rr, key } of partial.records) {
    if (rr.type === RRType.SOA) continue;
    if (!byKey.has(key)) byKey.set(key, rr);
  }
  const keys = [...byKey.keys()].sort();
  const h = createHash('sha256');
  h.update(
    `${partial.name}|${partial.ttl}|${partial.soa.mname}|${partial.soa.rname}|${partial.soa.refresh}|${partial.soa.retry}|${partial.soa.expire}|${partial.soa.minimum}\n`,
  );
  h.update(keys.join('\n'));
  return { ...partial, records: keys.map((k) => byKey.get(k)!), hash: h.digest('hex') };
}

/**
 * Presentation order for master files: apex first, then by labels from the root down with
 * numeric labels compared as numbers (reverse zones in address order), then by type.
 */
export function presentationOrder(records: readonly ResourceRecord[]): ResourceRecord[] {
  const keyed = records.map((rr) => ({
    rr,
    k: `${sortName(rr.name)}\u0000${String(rr.type).padStart(5, '0')}`,
  }));
  keyed.sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
  return keyed.map((e) => e.rr);
}

function sortName(name: string): string {
  return name
    .split('.')
    .reverse()
    .map((l) => (/^\d{1,3}$/.test(l) ? l.padStart(3, '0') : l))
    .join('\u0001');
}

/** Records added and removed between two contents of the same zone (SOA excluded). */
export function diffZones(
  from: readonly ResourceRecord[],
  to: readonly ResourceRecord[],
): { removed: ResourceRecord[]; added: ResourceRecord[] } {
  const a = new Map(from.map((r) => [recordKey(r), r]));
  const b = new Map(to.map((r) => [recordKey(r), r]));
  const removed = [...a].filter(([k]) => !b.has(k)).map(([, r]) => r);
  const added = [...b].filter(([k]) => !a.has(k)).map(([, r]) => r);
  return { removed, added };
}
