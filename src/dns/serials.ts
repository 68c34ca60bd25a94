import type { Migration, ReadTx, Table, WriteTx } from '../store/index.js';
import type { Zone, ZoneContent } from './zone.js';

/**
 * Zone serials persist in the store (spec §4.2, §13): one unlogged row per zone, keyed by
 * zone id (`normal/prolo`). Each row keeps the content hash the serial was given to, so a
 * restart with unchanged content keeps the serial and a changed one gets +1 — never less.
 * A short history maps recent serials to the store sequence number their content was read at,
 * which IXFR uses to rebuild an older version from the change log.
 */
export interface SerialHistoryEntry {
  serial: number;
  /** Store sequence number the content was built from (best effort; IXFR verifies the hash). */
  seq: number;
  hash: string;
}

export interface SerialRow {
  serial: number;
  hash: string;
  history: SerialHistoryEntry[];
  /**
   * Highest serial that may have been served. Serials up to it are handed out without waiting
   * for a store commit (the row is written behind); after a crash, changed content restarts
   * above it, so a serial a secondary may have seen is never reused for other content.
   */
  reserved?: number;
}

/** Serials reserved per awaited write: one commit covers this many changes of a zone. */
export const RESERVE_AHEAD = 100;

export const DNS_SERIALS_TABLE = 'dns_serials';
/** Unlogged: serial bumps are derived data and must not feed mdbsync or wake ourselves up. */
export const dnsSerialsTable: Table<SerialRow> = { name: DNS_SERIALS_TABLE, logged: false };

export const HISTORY_MAX = 64;

export const dnsMigrations: Migration[] = [
  {
    // The table is created by its first row; this id records that stores from here on carry
    // DNS serials, so an older Gatehouse refuses to open (and reset) them.
    id: 'dns-0001-serials',
    up(_tx: WriteTx) {},
  },
];

/** RFC 1982 serial increment; 0 is skipped so a serial is never mistaken for "unset". */
export function nextSerial(s: number): number {
  const n = (s + 1) % 2 ** 32;
  return n === 0 ? 1 : n;
}

/** RFC 1982 §3.2: is `a` newer than `b`? */
export function serialGreater(a: number, b: number): boolean {
  return a !== b && ((a > b && a - b < 2 ** 31) || (a < b && b - a > 2 ** 31));
}

export interface SerialPlan {
  zones: Zone[];
  /** Rows to write (zones whose serial is new or changed). */
  writes: Map<string, SerialRow>;
  /** A serial went past its reservation: the rows must be committed before the zones are served. */
  mustPersist: boolean;
}

export interface PlanOptions {
  /** Store sequence the content was built from (IXFR history). */
  seq: number;
  /** Bump every MDB-generated zone even when unchanged (the original's behaviour). */
  bumpGenerated: boolean;
  /** Rows come from the store at start-up: changed content goes above any reservation. */
  afterRestart?: boolean;
  reserveAhead?: number;
}

/**
 * Assigns serials: unchanged content keeps its serial, changed content gets +1, a zone never
 * seen gets 1. With `bumpGenerated` (the original's behaviour on every MDB message) every
 * MDB-generated zone gets +1 even when its content is the same.
 */
export function planSerials(
  contents: readonly ZoneContent[],
  rows: ReadonlyMap<string, SerialRow | undefined>,
  opts: PlanOptions,
): SerialPlan {
  const zones: Zone[] = [];
  const writes = new Map<string, SerialRow>();
  let mustPersist = false;
  for (const c of contents) {
    const row = rows.get(c.id);
    let serial: number;
    // A reservation still held at start-up means the last run did not stop cleanly: serials up
    // to it may have been served (even for content equal to today's), so every zone moves past it.
    const unclean =
      opts.afterRestart && row?.reserved !== undefined && serialGreater(row.reserved, row.serial);
    if (!row) serial = 1;
    else if (unclean) serial = nextSerial(row.reserved!);
    else if (row.hash !== c.hash || (opts.bumpGenerated && c.generated)) serial = nextSerial(row.serial);
    else serial = row.serial;
    zones.push({ ...c, serial });
    if (!row || serial !== row.serial) {
      const history = [
        ...(row?.history ?? []).filter((h) => h.serial !== serial),
        { serial, seq: opts.seq, hash: c.hash },
      ];
      let reserved = row?.reserved;
      if (reserved === undefined || serialGreater(serial, reserved)) {
        reserved = (serial + (opts.reserveAhead ?? RESERVE_AHEAD)) % 2 ** 32 || 1;
        mustPersist = true;
      }
      writes.set(c.id, { serial, hash: c.hash, history: history.slice(-HISTORY_MAX), reserved });
    }
  }
  return { zones, writes, mustPersist };
}

export function readSerialRows(tx: ReadTx, ids: readonly string[]): Map<string, SerialRow | undefined> {
  return new Map(ids.map((id) => [id, tx.get(dnsSerialsTable, id)]));
}

/**
 * Writes planned rows, re-reading each row inside the transaction: if another writer (a second
 * process on the same store) already went past the planned serial, the larger one wins, so
 * serials never go backwards. Returns the serials actually stored.
 */
export function writeSerialRows(tx: WriteTx, writes: ReadonlyMap<string, SerialRow>): Map<string, SerialRow> {
  const stored = new Map<string, SerialRow>();
  for (const [id, row] of writes) {
    const current = tx.get(dnsSerialsTable, id);
    if (current && current.hash !== row.hash && !serialGreater(row.serial, current.serial)) {
      const serial = nextSerial(current.serial);
      const fixed: SerialRow = {
        serial,
        hash: row.hash,
        history: [...current.history, { ...row.history.at(-1)!, serial }].slice(-HISTORY_MAX),
        reserved: row.reserved !== undefined && serialGreater(row.reserved, serial) ? row.reserved : serial,
      };
      tx.put(dnsSerialsTable, id, fixed);
      stored.set(id, fixed);
    } else if (current && current.hash === row.hash && !serialGreater(row.serial, current.serial)) {
      stored.set(id, current);
    } else {
      const reserved =
        current?.reserved !== undefined &&
        row.reserved !== undefined &&
        serialGreater(current.reserved, row.reserved)
          ? current.reserved
          : row.reserved;
      const next = { ...row, reserved };
      tx.put(dnsSerialsTable, id, next);
      stored.set(id, next);
    }
  }
  return stored;
}

/**
 * On a clean stop nothing beyond the current serial was served: drop the reservations so the
 * next start continues at +1.
 */
export function releaseReservations(tx: WriteTx, rows: ReadonlyMap<string, SerialRow>): void {
  for (const [id, row] of rows) {
    const current = tx.get(dnsSerialsTable, id);
    if (current && current.serial === row.serial && current.hash === row.hash)
      tx.put(dnsSerialsTable, id, { ...current, reserved: current.serial });
  }
}
