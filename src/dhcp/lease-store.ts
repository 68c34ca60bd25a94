/**
 * Leases in the store: the unlogged `dhcp_leases` table (key: address string; a lease is
 * operational state, not part of the MDB change feed) and `dhcp_state` (the clean-stop marker
 * that decides whether a restart needs probation, see leases.ts). Writes are coalesced: the
 * changes of a short window (20 ms) go into one store transaction, in order.
 */
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { Migration, ReadTx, Store, Table } from '../store/index.js';
import type { LeaseRecord, LeaseSink } from './leases.js';

export const DHCP_LEASES_TABLE = 'dhcp_leases';
export const DHCP_STATE_TABLE = 'dhcp_state';

export interface EngineState {
  /** true while a server runs; still true at the next start after a crash. */
  running: boolean;
  /** When the last server started (ms). */
  startedAt: number;
  /** The longest dynamic lease time that server gave (s): the probation a crash needs. */
  maxLeaseTime: number;
}

export const leasesTable: Table<LeaseRecord> = { name: DHCP_LEASES_TABLE, logged: false };
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
  store.table<LeaseRecord>(DHCP_LEASES_TABLE, { logged: false });
  store.table<EngineState>(DHCP_STATE_TABLE, { logged: false });
}

export function readLeases(tx: ReadTx): LeaseRecord[] {
  return tx.values(leasesTable);
}

export function readEngineState(tx: ReadTx): EngineState | undefined {
  return tx.get(stateTable, ENGINE_KEY);
}

export async function writeEngineState(store: Store, state: EngineState): Promise<void> {
  await store.write((tx) => tx.put(stateTable, ENGINE_KEY, state));
}

/** A LeaseSink that writes through to the store, one transaction per flush window. */
export class StoreLeaseWriter implements LeaseSink {
  private pending = new Map<string, LeaseRecord>();
  private scheduled = false;
  private inflight: Promise<void> = Promise.resolve();
  private closed = false;
  /** Called with the number of rows of each committed batch, or the error of a failed one. */
  onFlush: ((rows: number, error?: unknown) => void) | undefined;

  /**
   * Rows changed within this window share one transaction. Each commit syncs to disk, which
   * costs more CPU than the rows themselves at a few thousand leases per second; lost rows are
   * covered by the crash probation either way.
   */
  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly flushDelayMs = 20,
  ) {}

  persist(record: LeaseRecord): void {
    if (this.closed) return;
    // Later changes of the same address replace earlier ones of this batch: only the last counts.
    this.pending.delete(record.ip);
    this.pending.set(record.ip, record);
    if (!this.scheduled) {
      this.scheduled = true;
      setTimeout(() => this.flush(), this.flushDelayMs);
    }
  }

  private flush(): void {
    this.scheduled = false;
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const done = this.store
      .write((tx) => {
        for (const r of batch.values()) tx.put(leasesTable, r.ip, r);
      })
      .then(
        () => this.onFlush?.(batch.size),
        (e: unknown) => {
          // The leases stay valid in memory; a later change of the same address rewrites it.
          this.logger.error('dhcp.lease_write_failed', { rows: batch.size, error: errorMessage(e) });
          this.onFlush?.(batch.size, e);
        },
      );
    this.inflight = this.inflight.then(() => done);
  }

  /** Resolves when everything persisted so far is committed. */
  async drain(): Promise<void> {
    if (this.scheduled) this.flush();
    await this.inflight;
  }

  async close(): Promise<void> {
    await this.drain();
    this.closed = true;
  }
}
