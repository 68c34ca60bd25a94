import type { Machine } from '../mdb/model.js';
import { MDB_TABLES } from '../mdb/model.js';
import type { ChangeEvent } from '../store/index.js';
import type { TransferRequest } from './answer.js';
import { Flag, RRClass } from './constants.js';
import { MessageWriter } from './encode.js';
import { type ResourceRecord, soaRecord } from './records.js';
import { serialGreater } from './serials.js';
import { type SignOptions, signMessage } from './tsig.js';
import { type Zone, type ZoneContent, diffZones, zoneSoa } from './zone.js';

/**
 * Zone transfer streams (pure). AXFR (RFC 5936): SOA, every record, SOA. IXFR (RFC 1995):
 * one condensed difference from the client's serial to ours — SOA(new), SOA(old), removed,
 * SOA(new), added, SOA(new) — or just our SOA when the client is current, or the AXFR form
 * when the client's version cannot be rebuilt. Records are packed into messages of at most
 * `maxBytes`, each signed when the request was (RFC 8945 §5.3.1 chaining).
 */
export interface IxfrDiff {
  fromSerial: number;
  removed: ResourceRecord[];
  added: ResourceRecord[];
}

export interface TransferPlan {
  /** What the stream actually is: `axfr` (also an IXFR answered in full), `ixfr`, `current`. */
  style: 'axfr' | 'ixfr' | 'current';
  records: ResourceRecord[];
}

export function planTransfer(
  req: Pick<TransferRequest, 'kind' | 'clientSerial'>,
  zone: Zone,
  diff: IxfrDiff | undefined,
): TransferPlan {
  const soa = zoneSoa(zone);
  if (
    req.kind === 'ixfr' &&
    req.clientSerial !== undefined &&
    !serialGreater(zone.serial, req.clientSerial)
  ) {
    return { style: 'current', records: [soa] };
  }
  if (req.kind === 'ixfr' && diff) {
    const old = soaRecord(zone.name, zone.ttl, { ...zone.soa, serial: diff.fromSerial });
    return { style: 'ixfr', records: [soa, old, ...diff.removed, soa, ...diff.added, soa] };
  }
  return { style: 'axfr', records: [soa, ...zone.records, soa] };
}

export interface StreamOptions {
  maxBytes: number;
  /** Unix seconds for TSIG. */
  now: number;
  /** Add an OPT to each message (the request had one, RFC 6891 §7). */
  ednsSize: number | undefined;
}

/** Packs a plan into wire messages answering `req.message`. */
export function transferMessages(req: TransferRequest, plan: TransferPlan, opts: StreamOptions): Buffer[] {
  const q = req.message.questions[0]!;
  // Room for the TSIG RR (key name + ~60 bytes + 32-byte MAC) and an OPT.
  const budget =
    Math.min(opts.maxBytes, 65535) - (req.key ? 100 + req.key.name.length : 0) - (opts.ednsSize ? 11 : 0);
  const unsigned: Buffer[] = [];
  let w = new MessageWriter(Math.min(budget, 16384));
  const start = (first: boolean) => {
    w = new MessageWriter(Math.min(budget, 16384));
    w.header(req.message.id, Flag.QR | Flag.AA);
    if (first) w.question(q.name, q.type, RRClass.IN);
  };
  const close = () => {
    if (opts.ednsSize) w.opt(opts.ednsSize);
    unsigned.push(w.finish());
  };
  start(true);
  let inMessage = 0;
  for (const rr of plan.records) {
    const before = w.length;
    const counts = [...w.sectionCounts];
    w.record(1, rr);
    if (w.length > budget && inMessage > 0) {
      w.truncateTo(before, counts);
      close();
      start(false);
      w.record(1, rr);
      inMessage = 0;
    }
    inMessage++;
  }
  close();
  if (!req.key) return unsigned;
  const out: Buffer[] = [];
  let prior: Buffer | undefined;
  for (const m of unsigned) {
    const sign: SignOptions = prior
      ? { priorMac: prior, time: opts.now }
      : { requestMac: req.requestMac, time: opts.now, originalId: req.message.id };
    const s = signMessage(m, req.key, sign);
    out.push(s.message);
    prior = s.mac;
  }
  return out;
}

/**
 * The machine table as it was at store sequence `seq`: the current table with the change-log
 * events after `seq` undone, newest first. Both inputs must come from one synchronous read.
 */
export function machinesAt(current: readonly Machine[], eventsAfter: readonly ChangeEvent[]): Machine[] {
  const byKey = new Map<string | number, Machine>(current.map((m) => [m.hostname, m]));
  for (let i = eventsAfter.length - 1; i >= 0; i--) {
    const ev = eventsAfter[i]!;
    if (ev.table !== MDB_TABLES.machines) continue;
    if (ev.before === null) byKey.delete(ev.key);
    else byKey.set(ev.key, ev.before as Machine);
  }
  return [...byKey.entries()].sort((a, b) => (String(a[0]) < String(b[0]) ? -1 : 1)).map((e) => e[1]);
}

/** The IXFR difference, when the rebuilt old content is exactly what `fromSerial` was given to. */
export function ixfrDiff(
  old: ZoneContent | undefined,
  expectedHash: string,
  current: Zone,
  fromSerial: number,
): IxfrDiff | undefined {
  if (!old || old.hash !== expectedHash) return undefined;
  return { fromSerial, ...diffZones(old.records, current.records) };
}
