import { NotFoundError } from '../errors.js';
import type { ReadTx, WriteTx } from '../store/index.js';
import { type FieldSpec, ModelValidationError, fullClean } from './django-fields.js';
import { SWITCH_LOOKUPS, compileFilters } from './lookups.js';
import { MAC_RE } from './machines.js';
import { ROOMS, SWITCH_FIELDS, type Switch } from './model.js';
import { T } from './tables.js';

/** `Switch` (spec §2.1): chassis unique, MAC pattern, lowercased on save. */
export const SWITCH_FIELD_SPECS: readonly FieldSpec[] = [
  { name: 'name', verbose: 'Name', kind: 'char', maxLength: 64 },
  { name: 'chassis', verbose: 'Chassis ID', kind: 'char', maxLength: 17, regex: MAC_RE, unique: true },
  { name: 'room', verbose: 'Room', kind: 'char', maxLength: 20, choices: ROOMS },
  { name: 'rfs', verbose: 'RFS', kind: 'int' },
  { name: 'hfs', verbose: 'HFS', kind: 'int' },
];

const DEFAULTS = { room: 'other', rfs: 0, hfs: 0 } as const;

function cmp(a: Switch, b: Switch): number {
  if (a.rfs !== b.rfs) return a.rfs - b.rfs;
  if (a.hfs !== b.hfs) return a.hfs - b.hfs;
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  return a.chassis < b.chassis ? -1 : a.chassis > b.chassis ? 1 : 0;
}

/** Ordered by (rfs, hfs, name) like the original (chassis breaks ties). */
export function listSwitches(tx: ReadTx): Switch[] {
  return tx.values(T.switches).sort(cmp);
}

export function querySwitches(tx: ReadTx, filters: Record<string, unknown>): Switch[] {
  const pred = compileFilters<Switch & Record<string, unknown>>(SWITCH_LOOKUPS, filters);
  return listSwitches(tx).filter((s) => pred(s as Switch & Record<string, unknown>));
}

export function getSwitch(tx: ReadTx, chassis: string): Switch {
  const s = tx.get(T.switches, chassis.toLowerCase());
  if (!s) throw new NotFoundError(`no switch with chassis "${chassis}"`);
  return s;
}

function toSwitch(v: Record<string, unknown>): Switch {
  const out: Record<string, unknown> = {};
  for (const f of SWITCH_FIELDS) out[f] = v[f];
  out.chassis = String(out.chassis).toLowerCase();
  return out as unknown as Switch;
}

function clean(tx: ReadTx, raw: Record<string, unknown>, self?: Switch): Switch {
  const s = toSwitch(
    fullClean(
      'Switch',
      SWITCH_FIELD_SPECS,
      raw,
      (_f, v) => v !== self?.chassis && tx.has(T.switches, v as string),
    ),
  );
  if (s.chassis !== self?.chassis && tx.has(T.switches, s.chassis)) {
    throw new ModelValidationError({ chassis: ['Switch with this Chassis ID already exists.'] });
  }
  return s;
}

export function createSwitch(tx: WriteTx, raw: Record<string, unknown>): Switch {
  const s = clean(tx, { ...DEFAULTS, ...raw });
  tx.put(T.switches, s.chassis, s);
  return s;
}

export function updateSwitch(tx: WriteTx, chassis: string, changes: Record<string, unknown>): Switch {
  const current = getSwitch(tx, chassis);
  const s = clean(tx, { ...current, ...changes }, current);
  if (s.chassis !== current.chassis) tx.delete(T.switches, current.chassis);
  tx.put(T.switches, s.chassis, s);
  return s;
}

export function deleteSwitch(tx: WriteTx, chassis: string): Switch {
  const current = getSwitch(tx, chassis);
  tx.delete(T.switches, current.chassis);
  return current;
}
