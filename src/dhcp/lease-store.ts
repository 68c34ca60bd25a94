/**
 * Leases in the store: the unlogged `dhcp_leases` table (a lease is operational state, not part
 * of the MDB change feed) and `dhcp_state` (the clean-stop marker, see leases.ts).
 *
 * Rows hold the leases of one /24 each (lease-blocks.ts: one row per lease cost ~10 µs of CPU per
 * lease in the store's write path). Rows of one lease each, keyed by address (object rows of
 * earlier versions, tuples of an intermediate one), are still read, and converted to blocks when
 * the server starts.
 *
 * Writes are group-committed (see StoreLeaseWriter) and the server sends the ACK of a new or
 * renewed lease only once its row is committed, so a client never holds a lease the store lacks.
 */
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { Migration, ReadTx, Store, Table } from '../store/index.js';
import { type Ip, parseIp } from './ipv4.js';
import { blockBase, blockKey, decodeBlock, encodeBlock, encodeEntry, parseBlockKey } from './lease-blocks.js';
import type { LeaseRecord, LeaseSink, LeaseState } from './leases.js';

export const DHCP_LEASES_TABLE = 'dhcp_leases';
export const DHCP_STATE_TABLE = 'dhcp_state';

export interface EngineState {
  /** true while a server runs; still true at the next start after a crash. */
  running: boolean;
  /** When the last server started (ms). */
  startedAt: number;
  /** The longest dynamic lease time that server gave (s): the probation a crash needs. */
  maxLeaseTime: number;
  /**
   * That server acknowledged leases only after their rows were committed, so a crash lost no
   * lease any client was told about and the restart needs no probation. Absent (false) for
   * servers that answered first and wrote afterwards (Gatehouse before 2026-11-27).
   */
  durableAcks?: boolean;
}

/** `[mac, clientId, hostname, state, starts, expires, updatedAt]`; the address is the key. */
export type PackedLease = [
  mac: string,
  clientId: string | null,
  hostname: string | null,
  state: LeaseState,
  starts: number,
  expires: number,
  updatedAt: number,
];
/** A block of leases (key `a.b.c.0/24`, lease-blocks.ts), or one lease keyed by its address. */
export type LeaseRow = Uint8Array | PackedLease | LeaseRecord;

function unpackLease(ip: string, row: PackedLease | LeaseRecord): LeaseRecord {
  if (!Array.isArray(row)) return { ...row, ip };
  const [mac, clientId, hostname, state, starts, expires, updatedAt] = row;
  return { ip, mac, clientId, hostname, state, starts, expires, updatedAt };
}

export const leasesTable: Table<LeaseRow> = { name: DHCP_LEASES_TABLE, logged: false };
export const stateTable: Table<EngineState> = { name: DHCP_STATE_TABLE, logged: false };
const ENGINE_KEY = 'engine';

export const dhcpMigrations: Migration[] = [
  {
    id: 'dhcp-0001-leases',
    up(tx) {
      // The lease table needs no rows; this records that no server is running yet.
      tx.put(stateTable, ENGINE_KEY, { running: false, startedAt: 0, maxLeaseTime: 0 });
    },
  },
];

/** Declares the tables on a store (unlogged) so other code asking by name gets the same ones. */
export function declareDhcpTables(store: Store): void {
  store.table<LeaseRow>(DHCP_LEASES_TABLE, { logged: false });
  store.table<EngineState>(DHCP_STATE_TABLE, { logged: false });
}

export interface LeaseTable {
  /** One record per address (the newest when a block and a per-lease row both hold it). */
  records: LeaseRecord[];
  /** Keys of per-lease rows (earlier formats), to convert. */
  perLeaseKeys: string[];
  /** Blocks that could not be read to their end. */
  damaged: Array<{ key: string; error: string }>;
}

export function readLeaseTable(tx: ReadTx): LeaseTable {
  const byIp = new Map<string, LeaseRecord>();
  const perLeaseKeys: string[] = [];
  const damaged: LeaseTable['damaged'] = [];
  const keep = (r: LeaseRecord) => {
    const prev = byIp.get(r.ip);
    if (!prev || prev.updatedAt <= r.updatedAt) byIp.set(r.ip, r);
  };
  for (const { key, value } of tx.entries(leasesTable)) {
    const k = String(key);
    const base = parseBlockKey(k);
    if (base !== undefined && value instanceof Uint8Array) {
      const block = decodeBlock(base, value);
      if (block.error) damaged.push({ key: k, error: block.error });
      for (const r of block.records) keep(r);
    } else if (!(value instanceof Uint8Array)) {
      perLeaseKeys.push(k);
      keep(unpackLease(k, value));
    } else {
      damaged.push({ key: k, error: 'binary value under a key that is not a block' });
    }
  }
  return { records: [...byIp.values()], perLeaseKeys, damaged };
}

export function readLeases(tx: ReadTx): LeaseRecord[] {
  return readLeaseTable(tx).records;
}

export function readEngineState(tx: ReadTx): EngineState | undefined {
  return tx.get(stateTable, ENGINE_KEY);
}

export async function writeEngineState(store: Store, state: EngineState): Promise<void> {
  await store.write((tx) => tx.put(stateTable, ENGINE_KEY, state));
}

/** What a commit reports to the callbacks waiting for it. */
export type CommitCallback = (error: unknown) => void;

/**
 * A LeaseSink that writes through to the store, one row per /24 (lease-blocks.ts), with group
 * commit: the blocks changed while a commit is being prepared are written in one transaction; a
 * commit starts at most `minIntervalMs` after the previous one (each commit syncs to disk, ~0.2 ms
 * of CPU here, which at thousands of leases per second would cost more than the rows), at once
 * when the writer was idle (an ACK then waits one disk sync, not a window), and early when
 * `maxCallbacks` are waiting: the ACKs of one commit leave together, and a larger burst
 * overflowed a busy client's receive buffer (perfdhcp at 10k/s lost ~7500 of 50000 ACKs to 20 ms
 * batches, none to Kea's one-by-one answers). `afterCommit` callbacks run, in order, once every
 * row persisted before them is committed.
 */
export class StoreLeaseWriter implements LeaseSink {
  /** Encoded entry of every persisted lease, by block base, indexed by the last address byte. */
  private readonly blocks = new Map<Ip, Array<Uint8Array | undefined>>();
  private dirty = new Set<Ip>();
  /** Lease changes since the last flush (what `onFlush` reports). */
  private changes = 0;
  private waiting: CommitCallback[] = [];
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private lastStart = Number.NEGATIVE_INFINITY;
  private inflight: Promise<void> = Promise.resolve();
  private closed = false;
  /** Called with the number of lease changes of each committed batch, or the error of a failed one. */
  onFlush: ((rows: number, error?: unknown) => void) | undefined;

  constructor(
    /** Only `write` is used (the warm-up's writer gets a store that keeps nothing, warmup.ts). */
    private readonly store: Pick<Store, 'write'>,
    private readonly logger: Logger,
    private readonly minIntervalMs = 20,
    private readonly maxCallbacks = 64,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  private entriesOf(base: Ip): Array<Uint8Array | undefined> {
    let entries = this.blocks.get(base);
    if (!entries) {
      entries = new Array<Uint8Array | undefined>(256);
      this.blocks.set(base, entries);
    }
    return entries;
  }

  /** The rows already in the store (at start), so that rewriting a block keeps its other leases. */
  seed(records: Iterable<LeaseRecord>): void {
    for (const r of records) {
      const addr = parseIp(r.ip);
      if (addr !== undefined) this.entriesOf(blockBase(addr))[addr & 0xff] = encodeEntry(addr, r);
    }
  }

  /**
   * Rewrites every seeded lease as blocks and deletes the per-lease rows `keys` of earlier
   * versions, in one transaction.
   */
  async convert(keys: readonly string[]): Promise<void> {
    const bases = [...this.blocks.keys()];
    await this.store.write((tx) => {
      for (const k of keys) tx.delete(leasesTable, k);
      for (const base of bases) tx.put(leasesTable, blockKey(base), encodeBlock(this.entriesOf(base)));
    });
  }

  persist(record: LeaseRecord, addr: Ip = parseIp(record.ip) ?? -1): void {
    if (this.closed || addr < 0) return;
    const base = blockBase(addr);
    this.entriesOf(base)[addr & 0xff] = encodeEntry(addr, record);
    this.dirty.add(base);
    this.changes++;
    this.schedule();
  }

  /** Runs `fn` once everything persisted so far is committed (`error` set if that failed). */
  afterCommit(fn: CommitCallback): void {
    if (this.closed) {
      fn(new Error('the lease writer is closed'));
      return;
    }
    this.waiting.push(fn);
    this.schedule();
  }

  private schedule(): void {
    if (this.waiting.length >= this.maxCallbacks) {
      this.flushNow();
      return;
    }
    if (this.timer !== undefined || this.immediate !== undefined) return;
    const wait = this.lastStart + this.minIntervalMs - this.clock();
    // setImmediate: after the rest of this poll phase, so a burst read in one wakeup is one commit.
    if (wait > 0) this.timer = setTimeout(() => this.flush(), wait);
    else this.immediate = setImmediate(() => this.flush());
  }

  private flush(): void {
    this.timer = undefined;
    this.immediate = undefined;
    const dirty = this.dirty;
    const callbacks = this.waiting;
    if (dirty.size === 0 && callbacks.length === 0) return;
    const changes = this.changes;
    this.dirty = new Set();
    this.changes = 0;
    this.waiting = [];
    this.lastStart = this.clock();
    // Encoded now, so later changes of the same block go to the next commit, in order.
    const rows: Array<[string, Uint8Array]> = [];
    for (const base of dirty) rows.push([blockKey(base), encodeBlock(this.entriesOf(base))]);
    const done =
      rows.length === 0
        ? Promise.resolve()
        : this.store
            .write((tx) => {
              for (const [key, value] of rows) tx.put(leasesTable, key, value);
            })
            .then(
              (): unknown => {
                this.onFlush?.(changes);
                return undefined;
              },
              (e: unknown): unknown => {
                // The leases stay valid in memory; the next change of the block rewrites it whole.
                for (const base of dirty) this.dirty.add(base);
                this.logger.error('dhcp.lease_write_failed', {
                  leases: changes,
                  blocks: rows.length,
                  error: errorMessage(e),
                });
                this.onFlush?.(changes, e);
                return e;
              },
            );
    // Callbacks run in commit order: after the previous batch's, once this batch is committed.
    const previous = this.inflight;
    this.inflight = previous.then(() =>
      done.then((error) => {
        for (const cb of callbacks) {
          try {
            cb(error ?? null);
          } catch (e) {
            this.logger.error('dhcp.commit_callback_failed', { error: errorMessage(e) });
          }
        }
      }),
    );
  }

  private flushNow(): void {
    clearTimeout(this.timer);
    clearImmediate(this.immediate);
    this.flush();
  }

  /** Resolves when everything persisted so far is committed and its callbacks have run. */
  async drain(): Promise<void> {
    if (this.timer !== undefined || this.immediate !== undefined) this.flushNow();
    await this.inflight;
  }

  async close(): Promise<void> {
    await this.drain();
    this.closed = true;
  }
}
