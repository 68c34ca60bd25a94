/**
 * The pub/sub data model of spec §1.4 (`prologin/synchronisation.py`): a backlog maps a
 * primary-key value to a record; an update is `{"type": "update"|"delete", "data": record}`; a
 * message is a list of updates. Pure functions, shared by the hub and the tests' reference
 * client.
 */
export type SyncRecord = Record<string, unknown>;
export interface SyncUpdate {
  type: string;
  data: SyncRecord;
}
export type SyncMeta = 'created' | 'updated' | 'deleted';
/** Primary-key values are JSON scalars (a login, a MAC…); Map keeps 1 and "1" apart like Python. */
export type SyncKey = string | number | boolean | null;

export function itemsToUpdates(items: Iterable<SyncRecord>): SyncUpdate[] {
  const out: SyncUpdate[] = [];
  for (const data of items) out.push({ type: 'update', data });
  return out;
}

/**
 * `apply_updates(pk, backlog, updates, watch)`: applies in list order and returns the meta
 * mapping. An update replaces the whole record; a watched update counts as `updated` only
 * when a watched field changed; deleting an unknown key or an unknown type yields no meta.
 */
export function applyUpdates(
  pk: string,
  backlog: Map<SyncKey, SyncRecord>,
  updates: readonly SyncUpdate[],
  watch?: ReadonlySet<string> | null,
  onIgnored?: (why: string, update: SyncUpdate) => void,
): Map<SyncKey, SyncMeta> {
  const meta = new Map<SyncKey, SyncMeta>();
  for (const update of updates) {
    const data = update.data;
    const key = data[pk] as SyncKey;
    if (update.type === 'update') {
      const old = backlog.get(key);
      if (old === undefined) meta.set(key, 'created');
      else if (!watch || [...watch].some((f) => !jsonEqual(data[f], old[f]))) meta.set(key, 'updated');
      backlog.set(key, data);
    } else if (update.type === 'delete') {
      if (backlog.delete(key)) meta.set(key, 'deleted');
      else onIgnored?.('removing unexisting data', update);
    } else {
      onIgnored?.(`invalid update type: ${String(update.type)}`, update);
    }
  }
  return meta;
}

export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && jsonEqual((a as SyncRecord)[k], (b as SyncRecord)[k]));
}

/**
 * Checks that a decoded `/update` payload has the shape `apply_updates` needs: a list of
 * objects with a `type` and a `data` object carrying a scalar primary key. The original
 * failed half-way with a 500 (after applying the first entries); checking everything first
 * means a bad message changes nothing.
 */
export function parseUpdateList(value: unknown, pk: string): SyncUpdate[] | string {
  if (!Array.isArray(value)) return 'data must be a JSON list of updates';
  for (const [i, u] of value.entries()) {
    if (u === null || typeof u !== 'object' || Array.isArray(u)) return `update #${i} is not an object`;
    if (!Object.hasOwn(u, 'type')) return `update #${i} has no "type"`;
    const data = (u as { data?: unknown }).data;
    if (data === null || typeof data !== 'object' || Array.isArray(data))
      return `update #${i} has no "data" object`;
    if (!Object.hasOwn(data, pk)) return `update #${i} has no "${pk}" in its data`;
    const key = (data as SyncRecord)[pk];
    if (key !== null && typeof key === 'object') return `update #${i} has a non-scalar "${pk}"`;
  }
  return value as SyncUpdate[];
}
