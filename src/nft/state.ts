import type { Store, Table } from '../store/index.js';

/**
 * The firewall's own persisted state: contest mode (spec §11.2 "Block internet access"),
 * switched at run time and kept across restarts. Logged, so a switch made through the admin
 * API or a CLI operation reaches the running service through the change feed.
 */
export const FIREWALL_STATE_TABLE = 'firewall_state';
export const CONTEST_KEY = 'contest';

export interface ContestState {
  enabled: boolean;
  /** ISO time of the last switch. */
  changedAt: string;
  /** Who switched it (`cli`, `api <address>`…). */
  by: string;
}

export function firewallStateTable(store: Store): Table<ContestState> {
  return store.table<ContestState>(FIREWALL_STATE_TABLE);
}

export function readContest(store: Store): ContestState | undefined {
  const t = firewallStateTable(store);
  return store.read((tx) => tx.get(t, CONTEST_KEY));
}

export async function writeContest(
  store: Store,
  enabled: boolean,
  by: string,
  now = new Date(),
): Promise<ContestState> {
  const t = firewallStateTable(store);
  const state: ContestState = { enabled, changedAt: now.toISOString(), by };
  await store.write((tx) => tx.put(t, CONTEST_KEY, state));
  return state;
}
