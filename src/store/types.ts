export type Key = string | number;

export type ChangeOp = 'put' | 'delete';

/** One row change, published after commit in commit order (see Store.subscribe). */
export interface ChangeEvent<T = unknown> {
  seq: number;
  table: string;
  op: ChangeOp;
  key: Key;
  before: T | null;
  after: T | null;
  /** Unix time in milliseconds at which the transaction ran. */
  ts: number;
}

/** A declared table. Values are structured-clonable records (msgpack in LMDB). */
export interface Table<T> {
  readonly name: string;
  /** Changes of a logged table go to the change log and the change feed. */
  readonly logged: boolean;
  /** Phantom marker so Table<A> and Table<B> are not interchangeable. */
  readonly __type?: T;
}

export interface Entry<T> {
  key: Key;
  value: T;
}

export interface ReadTx {
  get<T>(table: Table<T>, key: Key): T | undefined;
  has(table: Table<unknown>, key: Key): boolean;
  /** Every row in key order. */
  entries<T>(table: Table<T>): Entry<T>[];
  values<T>(table: Table<T>): T[];
  count(table: Table<unknown>): number;
}

export interface WriteTx extends ReadTx {
  put<T>(table: Table<T>, key: Key, value: T): void;
  /** Returns false when the key did not exist. */
  delete(table: Table<unknown>, key: Key): boolean;
}

export interface Migration {
  /** Unique, stable id such as `mdb-0001-initial`; applied once, in list order. */
  id: string;
  up(tx: WriteTx): void;
}

export type ChangeListener = (events: readonly ChangeEvent[]) => void;

/** One row write of a transaction: `[table, key, value]`, or `[table, key]` for a deletion. */
export type RowWrite = [table: string, key: Key, value: unknown] | [table: string, key: Key];

/** What one committed write transaction changed: every row write (logged or not) and its events. */
export interface CommittedWrites {
  writes: RowWrite[];
  events: ChangeEvent[];
}

/** A consistent copy of some tables, the change log and the sequence (a replica's snapshot). */
export interface ReplicaImage {
  tables: string[];
  rows: Array<[table: string, key: Key, value: unknown]>;
  changelog: ChangeEvent[];
  seq: number;
}

/**
 * Hooks a replication layer (src/ha) installs on a store. `admit` and `journal` run inside the
 * write transaction: `admit` throws to refuse it (a standby); `journal` records it and returns
 * what `committed` receives after the commit is durable, in commit order. A promise returned by
 * `committed` delays the writer's answer (synchronous replication), not the next transaction.
 */
export interface ReplicationHooks<R = unknown> {
  admit?(tables: ReadonlySet<string>): void;
  journal?(tx: CommittedWrites): R | undefined;
  committed?(record: R): Promise<void> | undefined;
  /** A write transaction that ran `journal` did not commit (its record is void). */
  aborted?(): void;
}
