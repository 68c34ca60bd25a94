import type { Machine } from './model.js';

/**
 * Machines the start-up warm-ups invent (DHCP, DNS, netboot HTTP): never stored, and shaped by
 * one object literal in MDB's field order, so every warm-up's machines share V8's hidden class.
 */
export function syntheticMachine(hostname: string, ip: string, mac: string, aliases = ''): Machine {
  return {
    hostname,
    aliases,
    ip,
    mac,
    rfs: 0,
    hfs: 0,
    mtype: 'user',
    room: 'other',
    is_faulty: false,
    is_faulty_details: '',
  };
}

/** fe:57:xx:xx:xx:xx from a 32-bit number: locally administered, no real machine is expected to have it. */
export function syntheticMac(n: number): string {
  const b = [0xfe, 0x57, (n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}
