import { type Machine, MDB_TABLES, machinesTable, type Switch, switchesTable } from '../../mdb/model.js';
import type { Store } from '../../store/index.js';
import { compareSwitches } from './bootstrap.js';

/** What netboot needs from MDB, precomputed so a boot storm never scans the tables. */
export interface NetbootSnapshot {
  /** Machines by stored MAC (lowercase); more than one entry only if the store is inconsistent. */
  byMac: ReadonlyMap<string, readonly Machine[]>;
  /** First machine (hostname, then ip order) carrying each alias token, e.g. `rfs0`. */
  byAlias: ReadonlyMap<string, Machine>;
}

function compareMachines(a: Machine, b: Machine): number {
  if (a.hostname !== b.hostname) return a.hostname < b.hostname ? -1 : 1;
  return a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0;
}

export function buildSnapshot(machines: readonly Machine[]): NetbootSnapshot {
  const byMac = new Map<string, Machine[]>();
  const byAlias = new Map<string, Machine>();
  for (const m of [...machines].sort(compareMachines)) {
    const list = byMac.get(m.mac);
    if (list) list.push(m);
    else byMac.set(m.mac, [m]);
    // A whole-token match (spec §6.1 step 3, §17): `rfs1` must not find the machine of `rfs10`.
    for (const alias of m.aliases.split(',')) {
      if (alias && !byAlias.has(alias)) byAlias.set(alias, m);
    }
  }
  return { byMac, byAlias };
}

/** Delay after a change before the view is rebuilt ahead of the next request (one per burst). */
const PREPARE_AFTER_MS = 200;

/**
 * The netboot reader of the store: a machine snapshot rebuilt lazily after any committed change
 * to `machines` (the store publishes a transaction's events before `write` resolves, so a
 * request that follows a registration sees it), and the switch list likewise after a change to
 * `switches` (a logged table): in a boot storm every machine asks for /bootstrap, and reading
 * and sorting the table each time was ~2 % of the main thread's CPU.
 */
export class NetbootView {
  private snapshot: NetbootSnapshot | undefined;
  private switchList: readonly Switch[] | undefined;
  private readonly unsubscribe: () => void;
  private rebuild: NodeJS.Timeout | undefined;

  /** `store` undefined: a view of fixed contents (`fixed`). */
  private constructor(
    private readonly store: Store | undefined,
    fixed?: { machines: readonly Machine[]; switches: readonly Switch[] },
  ) {
    // Every field assigned in the same order on both paths: one hidden class for both kinds.
    this.snapshot = fixed ? buildSnapshot(fixed.machines) : undefined;
    this.switchList = fixed ? [...fixed.switches].sort(compareSwitches) : undefined;
    this.rebuild = undefined;
    this.unsubscribe = store
      ? store.subscribe((events) => {
          for (const e of events) {
            if (e.table === MDB_TABLES.machines) this.snapshot = undefined;
            else if (e.table === MDB_TABLES.switches) this.switchList = undefined;
          }
          this.prepareSoon();
        })
      : () => {};
  }

  /** The view of a store's `machines` and `switches`, following its changes. */
  static of(store: Store): NetbootView {
    return new NetbootView(store);
  }

  /**
   * Builds the snapshot and the switch list now if a change dropped them, so the request path
   * finds them built: the netboot handler compiled by the start-up warm-up (warmup.ts) never
   * saw them rebuilt, and the first request that rebuilds them throws that code away.
   */
  prepare(): void {
    try {
      this.current();
      this.switches();
    } catch {
      // The next request reads again and answers the error (handler-error.ts).
    }
  }

  /**
   * A view of `machines` and `switches` that follows no store (the start-up warm-up,
   * warmup.ts): the same class as the real view, so the code that reads it is compiled for
   * the object shapes a storm brings.
   */
  static fixed(machines: readonly Machine[], switches: readonly Switch[]): NetbootView {
    return new NetbootView(undefined, { machines, switches });
  }

  current(): NetbootSnapshot {
    if (!this.snapshot) {
      const store = this.store!;
      const machines = machinesTable(store);
      this.snapshot = store.read((tx) => buildSnapshot(tx.values(machines)));
    }
    return this.snapshot;
  }

  /**
   * Switches in `switches()` order: rfs, hfs, name. The same array until the table changes, so
   * a caller may key what it derives from it on its identity.
   */
  switches(): readonly Switch[] {
    if (!this.switchList) {
      const store = this.store!;
      const table = switchesTable(store);
      this.switchList = store.read((tx) => tx.values(table)).sort(compareSwitches);
    }
    return this.switchList;
  }

  /** `prepare` a little after a change: once for a burst of them (an import, registrations). */
  private prepareSoon(): void {
    if (this.rebuild) return;
    this.rebuild = setTimeout(() => {
      this.rebuild = undefined;
      this.prepare();
    }, PREPARE_AFTER_MS);
    this.rebuild.unref();
  }

  close(): void {
    this.unsubscribe();
    clearTimeout(this.rebuild);
    this.rebuild = undefined;
  }
}
