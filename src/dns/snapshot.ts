import { Flag, RRType, Rcode } from './constants.js';
import { MessageWriter } from './encode.js';
import { FastTable } from './fast-table.js';
import { lowerBytes, nameToWire, parentName } from './names.js';
import type { ResourceRecord } from './records.js';
import { type ViewName, type Zone, zoneSoa } from './zone.js';

/**
 * An immutable view of every zone, compiled for answering: owner names are keyed by their
 * lowercase wire form, and each (name, type) response — header with ID 0, lowercase question,
 * compressed answer — is encoded once, on first use, then reused for the life of the snapshot,
 * so answering is a map lookup, a copy and an ID patch. Zones whose content and serial did not
 * change are carried over from the previous snapshot with their encoded responses. A new
 * snapshot replaces the old one by a single reference swap.
 */
export interface CompiledZone {
  zone: Zone;
  /** SOA record with the current serial (authority section of negative answers). */
  soa: ResourceRecord;
  /** This zone's owner names (with empty non-terminals), keyed like `CompiledView.names`. */
  nodes: Map<string, NameNode>;
}

export interface NameNode {
  name: string;
  zone: CompiledZone;
  /** Records by type. Empty for empty non-terminals (NODATA, never NXDOMAIN: RFC 8020). */
  rrsets: Map<number, ResourceRecord[]>;
  /** Encoded responses by qtype (filled on first use). */
  answers: Map<number, Buffer>;
  /** NODATA response with QTYPE 0 at `qtypeAt`. */
  nodata: Buffer | undefined;
  any: Buffer | undefined;
  /** Offset of QTYPE in a response to this name (12 + wire length of the name). */
  qtypeAt: number;
}

export interface CompiledView {
  name: ViewName;
  /** Key: lowercase uncompressed wire name (with the final zero) as a latin1 string. */
  names: Map<string, NameNode>;
  zones: Map<string, CompiledZone>;
  /** Canonical zone name → compiled zone (transfers, NOTIFY). */
  byName: Map<string, CompiledZone>;
  /** Hot-path cache of responses by (name, QTYPE), filled on first use. */
  fast: FastTable;
}

export interface Snapshot {
  generation: number;
  views: Record<ViewName, CompiledView>;
  zones: readonly Zone[];
}

/** Lowercase wire form of a canonical name as a latin1 string. */
export function wireKey(name: string): string {
  if (name.includes('\\')) return lowerBytes(nameToWire(name)).toString('latin1');
  if (name === '') return '\u0000';
  let key = '';
  let i = 0;
  while (i <= name.length) {
    let dot = name.indexOf('.', i);
    if (dot < 0) dot = name.length;
    key += String.fromCharCode(dot - i) + name.slice(i, dot);
    i = dot + 1;
  }
  return key + '\u0000';
}

export function compileSnapshot(zones: readonly Zone[], generation: number, previous?: Snapshot): Snapshot {
  const views: Record<ViewName, CompiledView> = {
    normal: { name: 'normal', names: new Map(), zones: new Map(), byName: new Map(), fast: new FastTable() },
    alien: {
      name: 'alien',
      names: new Map(),
      zones: new Map(),
      byName: new Map(),
      fast: new FastTable(1024),
    },
  };
  // Shorter apexes first so a more specific zone's names win where zones overlap.
  const ordered = [...zones].sort((a, b) => a.name.length - b.name.length);
  for (const zone of ordered) {
    const view = views[zone.view];
    const old = previous?.views[zone.view].byName.get(zone.name);
    const cz =
      old && old.zone.hash === zone.hash && old.zone.serial === zone.serial ? old : compileZone(zone);
    view.zones.set(wireKey(zone.name), cz);
    view.byName.set(zone.name, cz);
    for (const [key, node] of cz.nodes) view.names.set(key, node);
  }
  return { generation, views, zones };
}

function compileZone(zone: Zone): CompiledZone {
  const cz: CompiledZone = { zone, soa: zoneSoa(zone), nodes: new Map() };
  const owners = new Map<string, Map<number, ResourceRecord[]>>();
  owners.set(zone.name, new Map([[RRType.SOA, [cz.soa]]]));
  for (const rr of zone.records) {
    let set = owners.get(rr.name);
    if (!set) {
      set = new Map();
      owners.set(rr.name, set);
      // Empty non-terminals between a new owner and the apex exist (RFC 8020).
      for (let p = parentName(rr.name); p.length > zone.name.length && !owners.has(p); p = parentName(p))
        owners.set(p, new Map());
    }
    const list = set.get(rr.type);
    if (list) list.push(rr);
    else set.set(rr.type, [rr]);
  }
  for (const [name, rrsets] of owners) {
    const key = wireKey(name);
    cz.nodes.set(key, {
      name,
      zone: cz,
      rrsets,
      answers: new Map(),
      nodata: undefined,
      any: undefined,
      qtypeAt: 12 + key.length,
    });
  }
  return cz;
}

const AA_RESPONSE = Flag.QR | Flag.AA;

/** The positive response for `qtype`, or undefined when the name has no such records. */
export function positiveAnswer(node: NameNode, qtype: number): Buffer | undefined {
  let b = node.answers.get(qtype);
  if (b) return b;
  const rrs = node.rrsets.get(qtype);
  if (!rrs) return undefined;
  const w = new MessageWriter(64 + rrs.length * 16);
  w.header(0, AA_RESPONSE);
  w.question(node.name, qtype, 1);
  for (const rr of rrs) w.record(1, rr);
  b = w.finish();
  node.answers.set(qtype, b);
  return b;
}

/** ANY (RFC 8482 allows less; a name here has few records so all are returned). */
export function anyAnswer(node: NameNode): Buffer {
  if (!node.any) {
    const w = new MessageWriter(256);
    w.header(0, AA_RESPONSE);
    w.question(node.name, RRType.ANY, 1);
    const types = [...node.rrsets.keys()].sort((a, b) => a - b);
    for (const t of types) for (const rr of node.rrsets.get(t)!) w.record(1, rr);
    if (types.length === 0) w.record(2, node.zone.soa);
    node.any = w.finish();
  }
  return node.any;
}

/** NODATA: NOERROR, no answer, the zone's SOA in authority (RFC 2308 §2.2). */
export function nodataAnswer(node: NameNode): Buffer {
  if (!node.nodata) {
    const w = new MessageWriter(128);
    w.header(0, AA_RESPONSE | Rcode.NOERROR);
    w.question(node.name, 0, 1);
    w.record(2, node.zone.soa);
    node.nodata = w.finish();
  }
  return node.nodata;
}
