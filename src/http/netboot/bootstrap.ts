import type { Switch } from '../../mdb/model.js';
import { oneLine } from './scripts.js';

/** The line the switch table replaces, as in the original script.ipxe. */
export const SWITCH_PLACEHOLDER = '#%%NETBOOT_REPLACE_SWITCH_INFO%%';

/**
 * The bootstrap script of spec §6.4, written for Gatehouse. Control flow, setting names
 * (`sw_name_N`, `sw_rfs_N`, `sw_hfs_N`, `sw_room_N`, `scriptlet`, `rfs_id`, `hfs_id`, `room`,
 * `mtype`, `hostname`) and URLs are the original's; the prompts keep the substrings operators
 * and the QEMU test look for ("Prologin netboot environment", "Hostname", "RFS", "HFS",
 * "Summary", "correct?").
 *
 * iPXE details the script relies on:
 * - a failing command ends a script unless followed by `||`, so every command that may fail
 *   (`read`, `choose`, `iseq`, `isset`, `chain`) has an explicit `||` branch;
 * - `iseq x${scriptlet} xalien` because an unset setting expands to nothing and `iseq` with one
 *   argument is a usage error;
 * - `${sw_name_${i}}` works because iPXE expands the innermost `${…}` first;
 * - counters are `:int32` settings: `inc` reads a setting as a number, and the plain string
 *   "0" would read as 48;
 * - `read` pre-fills the current value, which makes the LLDP path's `pas-r` hostname editable;
 * - LLDP values use the settings of upstream iPXE's LLDP support (`netX.lldp/<type>.<index>.
 *   <offset>.<length>`, with a 4-byte value prefix in the upper tag bits for the IEEE 802.1
 *   port VLAN TLV, OUI 00:80:c2 subtype 1). An iPXE without LLDP never sees a chassis id and
 *   the script returns to the menu after `timeout` seconds, like the original.
 */
const TEMPLATE = (base: string): string[] => [
  '#!ipxe',
  '# Gatehouse netboot bootstrap: registers unknown machines, chains known ones to their boot script.',
  '',
  ':start',
  'echo',
  'echo ==============================================================================',
  'echo                         Prologin netboot environment',
  'echo ==============================================================================',
  'echo',
  'set timeout 60',
  SWITCH_PLACEHOLDER,
  'set short_pasteur pas',
  'set short_alt alt',
  'iseq x${scriptlet} xalien && goto alien_menu ||',
  'echo This machine is known by MDB, fetching its boot script.',
  `chain ${base}/boot/\${mac}/ || goto reboot`,
  'goto reboot',
  '',
  ':alien_menu',
  'menu This machine is not known by MDB. Do you want to register it?',
  'item lldp Yes, register this contestant machine with LLDP',
  'item manual Yes, register this machine without LLDP',
  'item reboot No, reboot',
  'item --gap',
  'item shell Drop to the iPXE shell',
  'choose --default lldp choice || goto alien_menu',
  'goto ${choice}',
  '',
  ':shell',
  'echo Leave the shell with exit to go back to the netboot menu.',
  'shell ||',
  'goto start',
  '',
  ':lldp',
  'echo Waiting up to ${timeout} seconds for an LLDP frame from the switch on ${netX/ifname}...',
  'set lldp_try:int32 0',
  ':lldp_wait',
  'isset ${netX.lldp/1.0.0.0} && goto lldp_found ||',
  'iseq ${lldp_try} ${timeout} && goto lldp_timeout ||',
  'inc lldp_try',
  'sleep 1',
  'goto lldp_wait',
  '',
  ':lldp_timeout',
  'echo No LLDP frame received within ${timeout} seconds.',
  'goto alien_menu',
  '',
  ':lldp_found',
  'set lldpsource ${netX.lldp/1.0.0.0:hex}',
  'set lldp_chassis ${netX.lldp/1.0.1.6:hex}',
  'echo LLDP source (chassis TLV): ${lldpsource}',
  'echo Chassis ID: ${lldp_chassis}',
  'echo Port ID: ${netX.lldp/2.0.1.0:string}',
  'echo Port description: ${netX.lldp/4.0.0.0:string}',
  'echo System name: ${netX.lldp/5.0.0.0:string}',
  'echo System description: ${netX.lldp/6.0.0.0:string}',
  'echo Port VLAN ID: ${netX.lldp/0.128.194.1.127.0.4.2:uint16}',
  'set i:int32 0',
  ':lldp_switch',
  'isset ${sw_name_${i}} || goto manual',
  'iseq ${sw_name_${i}} ${lldp_chassis} && goto lldp_match ||',
  'inc i',
  'goto lldp_switch',
  '',
  ':lldp_match',
  'set rfs_id ${sw_rfs_${i}}',
  'set hfs_id ${sw_hfs_${i}}',
  'set room ${sw_room_${i}}',
  'set hostname ${short_${room}}-r',
  'set mtype user',
  'echo Switch found: room ${room}, rfs${rfs_id}, hfs${hfs_id}.',
  'echo MAC address: ${mac}',
  'echo -n Hostname (pas-r0Xp0Y or alt-r0Xp0Y, X = row, Y = seat):',
  'read hostname || goto lldp_match',
  'goto summary',
  '',
  ':manual',
  'echo MAC address: ${mac}',
  'echo -n Hostname (pas-r0Xp0Y or alt-r0Xp0Y, X = row, Y = seat):',
  'read hostname || goto manual',
  'echo -n Nearest RFS id (N of rfsN):',
  'read rfs_id || goto manual',
  'echo -n Nearest HFS id (N of hfsN):',
  'read hfs_id || goto manual',
  'menu Room of this machine',
  'item pasteur Lab pasteur',
  'item alt Supplementary room',
  'item cluster Cluster',
  'item other Other',
  'choose room || goto manual',
  'menu Type of this machine',
  'item user Contestant machine',
  'item orga Organizer machine',
  'item service Server',
  'choose mtype || goto manual',
  'goto summary',
  '',
  ':summary',
  'echo',
  'echo Summary',
  'echo Hostname: ${hostname}',
  'echo MAC address: ${mac}',
  'echo File servers: rfs${rfs_id} and hfs${hfs_id}',
  'echo Room: ${room}',
  'echo Machine type: ${mtype}',
  'clear confirm ||',
  'echo -n Is this correct? [Y/n]:',
  'read confirm ||',
  'iseq x${confirm} xn && goto manual ||',
  'iseq x${confirm} xN && goto manual ||',
  `chain ${base}/register?hostname=\${hostname}&mac=\${mac}&rfs=\${rfs_id}&hfs=\${hfs_id}&room=\${room}&mtype=\${mtype} || goto reboot`,
  'goto reboot',
  '',
  ':reboot',
  'prompt --key 0x02 --timeout 10000 Press Ctrl-B within 10 seconds for the iPXE command line... && goto shell ||',
  'reboot',
  '',
];

export interface SwitchRow {
  chassis: string;
  rfs: number;
  hfs: number;
  room: string;
}

/** The four `set` lines of one switch (spec §6.1), index from 0. */
export function switchBlock(i: number, s: SwitchRow): string {
  return [
    `set sw_name_${i} ${oneLine(s.chassis)}`,
    `set sw_rfs_${i} ${s.rfs}`,
    `set sw_hfs_${i} ${s.hfs}`,
    `set sw_room_${i} ${oneLine(s.room)}`,
  ].join('\n');
}

/** Sort order of the original `switches()`: rfs, hfs, then name. */
export function compareSwitches(a: Switch, b: Switch): number {
  return a.rfs - b.rfs || a.hfs - b.hfs || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/**
 * The script with the placeholder replaced by one block per switch, blocks joined by a blank
 * line (empty string when there are no switches). `switches` must already be in table order.
 */
export function renderBootstrap(switches: readonly SwitchRow[], baseUrl: string): string {
  const table = switches.map((s, i) => switchBlock(i, s)).join('\n\n');
  return TEMPLATE(baseUrl)
    .join('\n')
    .replace(SWITCH_PLACEHOLDER, () => table);
}
