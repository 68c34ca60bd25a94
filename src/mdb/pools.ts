import { NotFoundError } from '../errors.js';
import type { ReadTx, WriteTx } from '../store/index.js';
import { type FieldSpec, ModelValidationError, fullClean } from './django-fields.js';
import { allocationFailed } from './errors.js';
import { addressInPool, parseIpv4Network } from './ip.js';
import { type IpPool, MACHINE_TYPES } from './model.js';
import { T } from './tables.js';

export const POOL_FIELDS: readonly FieldSpec[] = [
  { name: 'mtype', verbose: 'For type', kind: 'char', maxLength: 20, choices: MACHINE_TYPES, unique: true },
  { name: 'network', verbose: 'CIDR', kind: 'char', maxLength: 32, unique: true },
  { name: 'last', verbose: 'Last allocation', kind: 'int' },
];

/** Pools ordered by mtype (the original's Meta.ordering). */
export function listPools(tx: ReadTx): IpPool[] {
  return tx.values(T.pools).sort((a, b) => (a.mtype < b.mtype ? -1 : a.mtype > b.mtype ? 1 : 0));
}

export function getPool(tx: ReadTx, mtype: string): IpPool {
  const p = tx.get(T.pools, mtype);
  if (!p) throw new NotFoundError(`no IP pool for machine type "${mtype}"`);
  return p;
}

function cleanPool(tx: ReadTx, raw: Record<string, unknown>, self?: IpPool): IpPool {
  const v = fullClean('IP Pool', POOL_FIELDS, { last: 0, ...raw }, (field, value) => {
    if (field === 'mtype') return value !== self?.mtype && tx.has(T.pools, value as string);
    return listPools(tx).some((p) => p.network === value && p.mtype !== self?.mtype);
  });
  if (!parseIpv4Network(v.network as string)) {
    throw new ModelValidationError({
      network: ['Enter a valid IPv4 network with zero host bits, e.g. 192.168.0.0/24.'],
    });
  }
  if ((v.last as number) < 0)
    throw new ModelValidationError({ last: ['Ensure this value is greater than or equal to 0.'] });
  return { mtype: v.mtype as IpPool['mtype'], network: v.network as string, last: v.last as number };
}

export function createPool(tx: WriteTx, raw: Record<string, unknown>): IpPool {
  const pool = cleanPool(tx, raw);
  tx.put(T.pools, pool.mtype, pool);
  return pool;
}

/** Updates network and/or last (raising `last` reserves a manual range, spec §2.2). */
export function updatePool(tx: WriteTx, mtype: string, changes: Record<string, unknown>): IpPool {
  const current = getPool(tx, mtype);
  if ('mtype' in changes && changes.mtype !== current.mtype) {
    throw new ModelValidationError({
      mtype: ['The machine type of a pool cannot be changed; delete and re-create it.'],
    });
  }
  const pool = cleanPool(tx, { ...current, ...changes }, current);
  tx.put(T.pools, pool.mtype, pool);
  return pool;
}

export function deletePool(tx: WriteTx, mtype: string): IpPool {
  const current = getPool(tx, mtype);
  tx.delete(T.pools, mtype);
  return current;
}

/**
 * `allocate_ip()`: organizers share the contestant pool; increments the pool's counter in the
 * caller's transaction and returns network + last. Never reuses addresses; refuses past the
 * broadcast address (RuntimeError "unable to allocate an IP address", counter untouched).
 */
export function allocateIp(tx: WriteTx, mtype: unknown): string {
  const poolType = mtype === 'orga' ? 'user' : mtype;
  if (typeof poolType !== 'string') throw allocationFailed();
  const pool = tx.get(T.pools, poolType);
  if (!pool) throw allocationFailed();
  const net = parseIpv4Network(pool.network);
  if (!net) throw allocationFailed();
  const next = pool.last + 1;
  const ip = addressInPool(net, next);
  if (!ip) throw allocationFailed();
  tx.put(T.pools, poolType, { ...pool, last: next });
  return ip;
}
