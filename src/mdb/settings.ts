import { NotFoundError } from '../errors.js';
import type { ReadTx, WriteTx } from '../store/index.js';
import { type FieldSpec, fullClean } from './django-fields.js';
import { MdbError } from './errors.js';
import { SELF_REGISTRATION_KEY, type StoredSetting } from './model.js';
import { T } from './tables.js';

/** `VolatileSetting` (spec §2.1): key not unique, three nullable typed values. */
export const SETTING_FIELDS: readonly FieldSpec[] = [
  { name: 'key', verbose: 'Key', kind: 'char', maxLength: 64 },
  { name: 'value_bool', verbose: 'Boolean', kind: 'bool', blank: true, nullable: true },
  { name: 'value_str', verbose: 'String', kind: 'char', maxLength: 64, blank: true, nullable: true },
  { name: 'value_int', verbose: 'Int', kind: 'int', blank: true, nullable: true },
];

const NEXT_ID = 'settings.nextId';

/** Ordered by key, then id. */
export function listSettings(tx: ReadTx): StoredSetting[] {
  return tx.values(T.settings).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.id - b.id));
}

export function getSetting(tx: ReadTx, id: number): StoredSetting {
  const s = tx.get(T.settings, id);
  if (!s) throw new NotFoundError(`no setting with id ${id}`);
  return s;
}

export function settingsByKey(tx: ReadTx, key: string): StoredSetting[] {
  return listSettings(tx).filter((s) => s.key === key);
}

function clean(raw: Record<string, unknown>): Omit<StoredSetting, 'id'> {
  const v = fullClean('Volatile setting', SETTING_FIELDS, raw, () => false);
  const nul = (x: unknown) => (x === '' || x === undefined ? null : x);
  return {
    key: v.key as string,
    value_bool: nul(v.value_bool) as boolean | null,
    value_str: nul(v.value_str) as string | null,
    value_int: nul(v.value_int) as number | null,
  };
}

export function createSetting(tx: WriteTx, raw: Record<string, unknown>): StoredSetting {
  const id = ((tx.get(T.meta, NEXT_ID) as number | undefined) ?? 1) as number;
  const s: StoredSetting = { id, ...clean(raw) };
  tx.put(T.meta, NEXT_ID, id + 1);
  tx.put(T.settings, id, s);
  return s;
}

export function updateSetting(tx: WriteTx, id: number, changes: Record<string, unknown>): StoredSetting {
  const current = getSetting(tx, id);
  const s: StoredSetting = { id, ...clean({ ...current, ...changes }) };
  tx.put(T.settings, id, s);
  return s;
}

export function deleteSetting(tx: WriteTx, id: number): StoredSetting {
  const current = getSetting(tx, id);
  tx.delete(T.settings, id);
  return current;
}

/**
 * `gatehouse mdb set KEY VALUE`: sets the one row with that key (created when missing); the
 * typed column receives the value, the other two become null.
 */
export function setSetting(tx: WriteTx, key: string, value: boolean | number | string): StoredSetting {
  const rows = settingsByKey(tx, key);
  if (rows.length > 1) {
    throw new MdbError(
      'GH_MDB_SETTING_AMBIGUOUS',
      'MultipleObjectsReturned',
      `${rows.length} settings have the key "${key}"; delete the extra rows through /api/v1/settings first`,
      409,
    );
  }
  const typed = {
    value_bool: typeof value === 'boolean' ? value : null,
    value_int: typeof value === 'number' ? value : null,
    value_str: typeof value === 'string' ? value : null,
  };
  return rows[0] ? updateSetting(tx, rows[0].id, typed) : createSetting(tx, { key, ...typed });
}

/**
 * The registration switch: missing → false; several rows → the original's
 * `MultipleObjectsReturned`; otherwise its `value_bool` must be true.
 */
export function selfRegistrationAllowed(tx: ReadTx): boolean {
  const rows = settingsByKey(tx, SELF_REGISTRATION_KEY);
  if (rows.length > 1) {
    throw new MdbError(
      'GH_MDB_SETTING_AMBIGUOUS',
      'MultipleObjectsReturned',
      `get() returned more than one VolatileSetting -- it returned ${rows.length}!`,
      409,
    );
  }
  return rows[0]?.value_bool === true;
}
