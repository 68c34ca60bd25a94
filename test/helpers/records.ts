import type { Machine } from '../../src/mdb/model.js';

/**
 * An MDB machine row for a test: a user machine in room pasteur with no aliases and rfs/hfs 0
 * unless `fields` say otherwise, in the store's key order.
 */
export function machineRecord(fields: Pick<Machine, 'hostname' | 'ip' | 'mac'> & Partial<Machine>): Machine {
  const { hostname, ip, mac, ...rest } = fields;
  return {
    hostname,
    aliases: '',
    ip,
    mac,
    rfs: 0,
    hfs: 0,
    mtype: 'user',
    room: 'pasteur',
    is_faulty: false,
    is_faulty_details: '',
    ...rest,
  };
}
