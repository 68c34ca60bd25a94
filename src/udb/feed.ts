import type { ChangeEvent, Store } from '../store/index.js';
import type { SeqMessage, SyncHub } from '../sync/hub.js';
import type { SyncRecord, SyncUpdate } from '../sync/updates.js';
import type { User } from './model.js';
import { userToDict } from './query.js';
import { listUsers, type UdbTables } from './users.js';

/**
 * The udbsync update for one change of the `users` table (spec §7.2/§8): a put is an
 * `update` with the full record (password included), a delete is a `delete` carrying the full
 * record as it was.
 */
export function userUpdateOf(event: ChangeEvent): SyncUpdate | undefined {
  if (event.op === 'put' && event.after) return { type: 'update', data: asRecord(event.after as User) };
  if (event.op === 'delete' && event.before) return { type: 'delete', data: asRecord(event.before as User) };
  return undefined;
}

function asRecord(u: User): SyncRecord {
  return userToDict(u) as unknown as SyncRecord;
}

/**
 * Feeds the udbsync hub from the store: the backlog starts as every user in `query_private`
 * order, then each committed transaction touching users is broadcast as one message, after
 * commit and in commit order. The hub carries the store's sequence numbers, so a subscriber
 * can resume with `?since=` while the change log still holds its position.
 */
export function connectUserFeed(store: Store, tables: UdbTables, hub: SyncHub): () => void {
  const users = tables.users.name;
  const unsubscribe = store.subscribe((events) => {
    const updates: SyncUpdate[] = [];
    for (const ev of events) {
      if (ev.table !== users) continue;
      const u = userUpdateOf(ev);
      if (u) updates.push(u);
    }
    const last = events[events.length - 1]!.seq;
    if (updates.length > 0) hub.publish(updates, last);
    else hub.advanceSeq(last);
  });
  // Subscribed before reading, in the same tick: no commit can fall between the two.
  hub.replaceAll(store.read((tx) => listUsers(tx, tables)).map(asRecord), store.lastSeq);
  return unsubscribe;
}

/** `?since=` support: the users changes still in the store's change log, one message each. */
export function userResume(store: Store, tables: Pick<UdbTables, 'users'>) {
  return (since: number, upTo: number): SeqMessage[] | undefined => {
    const events = store.changesSince(since, [tables.users.name]);
    if (!events) return undefined;
    const out: SeqMessage[] = [];
    for (const ev of events) {
      if (ev.seq > upTo) break;
      const u = userUpdateOf(ev);
      if (u) out.push({ seq: ev.seq, updates: [u] });
    }
    return out;
  };
}
