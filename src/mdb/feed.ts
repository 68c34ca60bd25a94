import type { ChangeEvent, Store } from '../store/index.js';
import type { SeqMessage, SyncHub } from '../sync/hub.js';
import type { SyncRecord, SyncUpdate } from '../sync/updates.js';
import { type Machine, MDB_TABLES } from './model.js';
import { T } from './tables.js';

/**
 * mdbsync driven by the store (spec §3): the backlog is the machine table, and every committed
 * transaction that touches machines becomes one message, published after commit in commit
 * order. A put becomes an update with the new record; a delete becomes a delete with the full
 * old record. The feed is keyed by MAC, so a put that changes a machine's MAC is sent as a
 * delete of the old record followed by an update of the new one.
 */
export function machineEventUpdates(ev: ChangeEvent): SyncUpdate[] {
  const before = ev.before as Machine | null;
  const after = ev.after as Machine | null;
  if (ev.op === 'delete') return before ? [{ type: 'delete', data: before as unknown as SyncRecord }] : [];
  if (!after) return [];
  const out: SyncUpdate[] = [];
  if (before && before.mac !== after.mac) out.push({ type: 'delete', data: before as unknown as SyncRecord });
  out.push({ type: 'update', data: after as unknown as SyncRecord });
  return out;
}

/** Fills the hub from the store and keeps it current. Returns the unsubscribe function. */
export function connectMachineFeed(store: Store, hub: SyncHub): () => void {
  const unsubscribe = store.subscribe((events) => {
    const updates: SyncUpdate[] = [];
    for (const ev of events) if (ev.table === MDB_TABLES.machines) updates.push(...machineEventUpdates(ev));
    const last = events[events.length - 1]!.seq;
    if (updates.length > 0) hub.publish(updates, last);
    else hub.advanceSeq(last);
  });
  // Subscribed before reading, in the same tick: no commit can fall between the two.
  const records = store.read((tx) => tx.values(T.machines));
  hub.replaceAll(records as unknown as SyncRecord[], store.lastSeq);
  return unsubscribe;
}

/** The `?since=` hook: machine changes after `since` from the store's change log. */
export function machineResume(store: Store): (since: number, upTo: number) => SeqMessage[] | undefined {
  return (since, upTo) => {
    const events = store.changesSince(since, [MDB_TABLES.machines]);
    if (!events) return undefined;
    const out: SeqMessage[] = [];
    for (const ev of events) {
      if (ev.seq > upTo) break;
      const updates = machineEventUpdates(ev);
      if (updates.length > 0) out.push({ seq: ev.seq, updates });
    }
    return out;
  };
}
