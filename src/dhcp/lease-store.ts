/**
 * Leases in the store: the unlogged `dhcp_leases` table (key: address string; a lease is
 * operational state, not part of the MDB change feed) and `dhcp_state` (the clean-stop marker
 * that decides whether a restart needs probation, see leases.ts).
 *
 * Rows are written as tuples (`PackedLease`): the store structured-clones and msgpacks every
 * row, and for an object that cost ~4 µs per lease against ~2 µs for a tuple (measured; the row
 * write was the largest single item of the server's CPU per exchange). Object rows written by
 * earlier versions are read as they are.
 *
 * Writes are group-committed (see StoreLeaseWriter) and the server sends the ACK of a new or
 * renewed lease only once its row is committed, so a client never holds a lease the store lacks.
 */
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { Migration, ReadTx, Store, Table } from '../store/index.js';
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
export type LeaseRow = PackedLease | LeaseRecord;

export function packLease(r: LeaseRecord): PackedLease {
  return [r.mac, r.clientId, r.hostname, r.state, r.starts, r.expires, r.updatedAt];
}

export function unpackLease(ip: string, row: LeaseRow): LeaseRecord {
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

export function readLeases(tx: ReadTx): LeaseRecord[] {
  return tx.entries(leasesTable).map((e) => unpackLease(String(e.key), e.value));
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
 * A LeaseSink that writes through to the store with group commit: the rows changed while a
 * commit is being prepared share one transaction, at most one commit starts per
 * `minIntervalMs` (each commit syncs to disk, ~0.2 ms of CPU here, which at thousands of leases
 * per second would cost more than the rows), and an idle writer commits at once (an ACK then
 * waits one disk sync, not a window). `afterCommit` callbacks run, in order, once every row
 * persisted before them is committed.
 */
export class StoreLeaseWriter implements LeaseSink {
  private pending = new Map<string, LeaseRecord>();
  private waiting: CommitCallback[] = [];
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private lastStart = Number.NEGATIVE_INFINITY;
  private inflight: Promise<void> = Promise.resolve();
  private closed = false;
  /** Called with the number of rows of each committed batch, or the error of a failed one. */
  onFlush: ((rows: number, error?: unknown) => void) | undefined;

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly minIntervalMs = 20,
    private readonly clock: () => number = () => performance.now(),
  ) {}

  persist(record: LeaseRecord): void {
    if (this.closed) return;
    // Later changes of the same address replace earlier ones of this batch: only the last counts.
    this.pending.delete(record.ip);
    this.pending.set(record.ip, record);
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
    if (this.timer !== undefined || this.immediate !== undefined) return;
    const wait = this.lastStart + this.minIntervalMs - this.clock();
    // setImmediate: after the rest of this poll phase, so a burst read in one wakeup is one commit.
    if (wait > 0) this.timer = setTimeout(() => this.flush(), wait);
    else this.immediate = setImmediate(() => this.flush());
  }

  private flush(): void {
    this.timer = undefined;
    this.immediate = undefined;
    const batch = this.pending;
    const callbacks = this.waiting;
    if (batch.size === 0 && callbacks.length === 0) return;
    this.pending = new Map();
    this.waiting = [];
    this.lastStart = this.clock();
    const done =
      batch.size === 0
        ? Promise.resolve()
        : this.store
            .write((tx) => {
              for (const r of batch.values()) tx.put(leasesTable, r.ip, packLease(r));
            })
            .then(
              (): unknown => {
                this.onFlush?.(batch.size);
                return undefined;
              },
              (e: unknown): unknown => {
                // The leases stay valid in memory; a later change of the same address rewrites it.
                this.logger.error('dhcp.lease_write_failed', { rows: batch.size, error: errorMessage(e) });
                this.onFlush?.(batch.size, e);
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

  /** Resolves when everything persisted so far is committed and its callbacks have run. */
  async drain(): Promise<void> {
    if (this.timer !== undefined || this.immediate !== undefined) {
      clearTimeout(this.timer);
      clearImmediate(this.immediate);
      this.flush();
    }
    await this.inflight;
  }

  async close(): Promise<void> {
    await this.drain();
    this.closed = true;
  }
}
