import { NotFoundError } from '../errors.js';
import type { ReadTx, WriteTx } from '../store/index.js';
import { type FieldSpec, ModelValidationError, fullClean } from './django-fields.js';
import { type MdbError, registerSaveFailed, registrationDisabled } from './errors.js';
import { MACHINE_LOOKUPS, compileFilters } from './lookups.js';
import { MACHINE_FIELDS, MACHINE_TYPES, type Machine, ROOMS } from './model.js';
import { allocateIp } from './pools.js';
import { selfRegistrationAllowed } from './settings.js';
import { T } from './tables.js';

/** Hostname: lowercase letters, digits, dashes, optionally one dot and a dash-free suffix. */
export const HOSTNAME_RE = /^[a-z0-9-]+(?:\.[a-z0-9]+)?$/;
/** Comma-separated hostnames, no spaces. */
export const ALIASES_RE = /^[a-z0-9-]+(?:\.[a-z0-9]+)?(?:,[a-z0-9-]+(?:\.[a-z0-9]+)?)*$/;
/** The original validator searches (unanchored); with max length 17 that is exactly six pairs. */
export const MAC_RE = /[0-9a-zA-Z]{2}(?::[0-9a-zA-Z]{2}){5}/;

/** `Machine` fields in model order (spec §2.1), as `full_clean` checks them. */
export const MACHINE_FIELD_SPECS: readonly FieldSpec[] = [
  { name: 'hostname', verbose: 'Host name', kind: 'char', maxLength: 64, regex: HOSTNAME_RE, unique: true },
  { name: 'aliases', verbose: 'Aliases', kind: 'char', maxLength: 512, blank: true, regex: ALIASES_RE },
  { name: 'ip', verbose: 'IP', kind: 'ip', unique: true },
  { name: 'mac', verbose: 'MAC', kind: 'char', maxLength: 17, regex: MAC_RE, unique: true },
  { name: 'rfs', verbose: 'RFS', kind: 'int' },
  { name: 'hfs', verbose: 'HFS', kind: 'int' },
  { name: 'mtype', verbose: 'Type', kind: 'char', maxLength: 20, choices: MACHINE_TYPES },
  { name: 'room', verbose: 'Room', kind: 'char', maxLength: 20, choices: ROOMS },
  { name: 'is_faulty', verbose: 'Faulty machine', kind: 'bool' },
  { name: 'is_faulty_details', verbose: 'Details on why the machine is faulty', kind: 'text', blank: true },
];

export const MACHINE_DEFAULTS = {
  aliases: '',
  rfs: 0,
  hfs: 0,
  mtype: 'orga',
  room: 'other',
  is_faulty: false,
  is_faulty_details: '',
} as const;

/** Fields an edit may not change (admin rule of spec §2.5; also the mdbsync key). */
export const READ_ONLY_ON_EDIT = ['hostname', 'ip', 'mac'] as const;

/** A record in `to_dict()` key order with the MAC lowercased (what is stored and sent). */
export function toRecord(v: Record<string, unknown>): Machine {
  const out: Record<string, unknown> = {};
  for (const f of MACHINE_FIELDS) out[f] = v[f];
  out.mac = String(out.mac).toLowerCase();
  out.aliases ??= '';
  out.is_faulty_details ??= '';
  return out as unknown as Machine;
}

/** Every machine, ordered by hostname (then ip; hostnames are unique). */
export function listMachines(tx: ReadTx): Machine[] {
  return tx.values(T.machines);
}

/** `query(**filters)`: Django lookups AND-ed, in MDB order. */
export function queryMachines(tx: ReadTx, filters: Record<string, unknown>): Machine[] {
  const pred = compileFilters<Machine & Record<string, unknown>>(MACHINE_LOOKUPS, filters);
  return listMachines(tx).filter((m) => pred(m as Machine & Record<string, unknown>));
}

export function getMachine(tx: ReadTx, hostname: string): Machine {
  const m = tx.get(T.machines, hostname);
  if (!m) throw new NotFoundError(`no machine named "${hostname}"`);
  return m;
}

export function findMachineByMac(tx: ReadTx, mac: string): Machine | undefined {
  const host = tx.get(T.byMac, mac.toLowerCase());
  return host === undefined ? undefined : tx.get(T.machines, host);
}

export function findMachineByIp(tx: ReadTx, ip: string): Machine | undefined {
  const host = tx.get(T.byIp, ip);
  return host === undefined ? undefined : tx.get(T.machines, host);
}

function cleanMachine(tx: ReadTx, raw: Record<string, unknown>, self?: Machine): Record<string, unknown> {
  return fullClean('Machine', MACHINE_FIELD_SPECS, raw, (field, value) => {
    const v = value as string;
    if (field === 'hostname') return v !== self?.hostname && tx.has(T.machines, v);
    const index = field === 'ip' ? T.byIp : T.byMac;
    const owner = tx.get(index, v);
    return owner !== undefined && owner !== self?.hostname;
  });
}

function write(tx: WriteTx, m: Machine, previous?: Machine): void {
  if (previous) {
    if (previous.ip !== m.ip) tx.delete(T.byIp, previous.ip);
    if (previous.mac !== m.mac) tx.delete(T.byMac, previous.mac);
    if (previous.hostname !== m.hostname) tx.delete(T.machines, previous.hostname);
  }
  tx.put(T.machines, m.hostname, m);
  tx.put(T.byIp, m.ip, m.hostname);
  tx.put(T.byMac, m.mac, m.hostname);
}

/** The lowercased MAC may collide with a stored one even though the raw value passed. */
function lowercaseMacTaken(tx: ReadTx, mac: string, self?: Machine): boolean {
  const owner = tx.get(T.byMac, mac);
  return owner !== undefined && owner !== self?.hostname;
}

/**
 * Creates a machine (admin API, `addmachine`, demo seed): defaults applied, IP allocated from
 * the type's pool when none is given (in this transaction), `full_clean`, MAC lowercased.
 */
export function createMachine(tx: WriteTx, input: Record<string, unknown>): Machine {
  const raw: Record<string, unknown> = { ...MACHINE_DEFAULTS, ...input };
  if (raw.ip === undefined || raw.ip === null || raw.ip === '') raw.ip = allocateIp(tx, raw.mtype);
  const m = toRecord(cleanMachine(tx, raw));
  if (lowercaseMacTaken(tx, m.mac))
    throw new ModelValidationError({ mac: ['Machine with this MAC already exists.'] });
  write(tx, m);
  return m;
}

/**
 * Edits a machine. `hostname`, `ip` and `mac` are read-only (spec §2.5: they are the DNS name,
 * the address and the mdbsync key); sending their current value is allowed.
 */
export function updateMachine(tx: WriteTx, hostname: string, changes: Record<string, unknown>): Machine {
  const current = getMachine(tx, hostname);
  const readOnly: Record<string, string[]> = {};
  for (const f of READ_ONLY_ON_EDIT) {
    if (f in changes && String(changes[f]).toLowerCase() !== String(current[f]).toLowerCase()) {
      readOnly[f] = [
        `${f} is read-only once the machine exists; delete and re-create the machine to change it.`,
      ];
    }
  }
  if (Object.keys(readOnly).length > 0) throw new ModelValidationError(readOnly);
  const raw = { ...current, ...changes, hostname: current.hostname, ip: current.ip, mac: current.mac };
  const m = toRecord(cleanMachine(tx, raw, current));
  write(tx, m, current);
  return m;
}

export function deleteMachine(tx: WriteTx, hostname: string): Machine {
  const current = getMachine(tx, hostname);
  tx.delete(T.machines, hostname);
  tx.delete(T.byIp, current.ip);
  tx.delete(T.byMac, current.mac);
  return current;
}

/**
 * `addmachine --update` (spec §2.6): when the hostname exists, only aliases, rfs, hfs, mtype
 * and room are overwritten, and only those given with a non-empty value.
 */
export function upsertMachine(
  tx: WriteTx,
  input: Record<string, unknown>,
): { machine: Machine; created: boolean } {
  const hostname = typeof input.hostname === 'string' ? input.hostname : undefined;
  const existing = hostname !== undefined ? tx.get(T.machines, hostname) : undefined;
  if (!existing) return { machine: createMachine(tx, input), created: true };
  const changes: Record<string, unknown> = {};
  for (const f of ['aliases', 'rfs', 'hfs', 'mtype', 'room'] as const) {
    const v = input[f];
    if (v !== undefined && v !== null && v !== '') changes[f] = v;
  }
  return { machine: updateMachine(tx, existing.hostname, changes), created: false };
}

export interface RegisterArgs {
  hostname: unknown;
  mac: unknown;
  rfs: unknown;
  hfs: unknown;
  room: unknown;
  mtype: unknown;
}

export type RegisterOutcome =
  | { ok: true; machine: Machine }
  | { ok: false; error: ModelValidationError | MdbError };

/**
 * `register()` of the original (spec §2.4). Errors before the allocation throw (nothing is
 * written); after it the outcome is returned so the caller's transaction still commits the
 * consumed address, as the original did (scenario 12).
 */
export function registerMachine(tx: WriteTx, a: RegisterArgs): RegisterOutcome {
  if (!selfRegistrationAllowed(tx)) throw registrationDisabled();
  const raw: Record<string, unknown> = {
    ...MACHINE_DEFAULTS,
    hostname: a.hostname,
    mac: a.mac,
    rfs: a.rfs,
    hfs: a.hfs,
    room: a.room,
    mtype: a.mtype,
  };
  raw.ip = allocateIp(tx, a.mtype);
  let m: Machine;
  try {
    m = toRecord(cleanMachine(tx, raw));
  } catch (e) {
    if (e instanceof ModelValidationError) return { ok: false, error: e };
    throw e;
  }
  // Validation ran before lowercasing: an uppercase duplicate fails only at save.
  if (lowercaseMacTaken(tx, m.mac)) return { ok: false, error: registerSaveFailed() };
  write(tx, m);
  return { ok: true, machine: m };
}
