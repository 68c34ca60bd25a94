/**
 * The machines of a storm and the LAN they boot on: the same plan for Gatehouse and every peer
 * (same MACs, same reserved addresses, same boot file), so their runs are comparable. Pure.
 */
import { bootScript } from '../../src/http/netboot/scripts.js';

/** The LAN of the bench namespaces: a /20 holds 2500 machines, the gateway at its top. */
export const LAN = {
  network: '10.40.0.0/20',
  prefixLen: 20,
  mask: '255.255.240.0',
  server: '10.40.15.254',
  alien: '10.42.0.0/24',
  alienGateway: '10.42.0.254',
  cluster: '10.41.0.0/24',
  domain: 'prolo',
} as const;

/** What a BIOS PXE ROM is given (Gatehouse's `dhcp.subnets[].bootFile`, the peers' filename). */
export const BOOT_FILE = 'undionly.kpxe';
/** The size of Debian's ipxe undionly.kpxe (74 KB); the bench writes a file of this size. */
export const BOOT_FILE_SIZE = 74 * 1024 + 123;
/** What iPXE is given instead (`dhcp.ipxe.chainUrl`). */
export const IPXE_CHAIN_URL = 'http://netboot/bootstrap';
/** The RFS servers; machine i boots from rfs(i mod RFS_COUNT), so each boot script names its own. */
export const RFS_COUNT = 4;
/** The kernel options in the boot scripts (Gatehouse's netboot.options default, shortened). */
export const KERNEL_OPTIONS = 'root=/dev/nfs nosplash rootdelay=0';

export interface PlannedMachine {
  index: number;
  mac: string;
  ip: string;
  hostname: string;
  rfs: number;
}

function u32ToIp(v: number): string {
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

const LAN_BASE = (10 << 24) | (40 << 16);

/**
 * Machine i: MAC 02:5b:00:00:HH:LL, address 10.40.0.10 + i, host name pc0001… The bench plans
 * one more than it storms with: the warm-up machine, booted alone before the storm.
 */
export function planMachines(n: number, macPrefix = '02:5b:00'): PlannedMachine[] {
  if (!(n >= 1 && n <= 2501)) throw new Error(`--n must be 1..2500 (got ${n})`);
  return Array.from({ length: n }, (_, i) => {
    const hex = (v: number) => v.toString(16).padStart(2, '0');
    return {
      index: i,
      mac: `${macPrefix}:${hex((i >> 16) & 255)}:${hex((i >> 8) & 255)}:${hex(i & 255)}`,
      ip: u32ToIp((LAN_BASE + 10 + i) >>> 0),
      hostname: `pc${String(i + 1).padStart(4, '0')}`,
      rfs: i % RFS_COUNT,
    };
  });
}

/** The RFS hosts registered beside the machines (service machines with alias rfsN). */
export function rfsHosts(): Array<{ hostname: string; ip: string; mac: string; alias: string }> {
  return Array.from({ length: RFS_COUNT }, (_, i) => ({
    hostname: `storage${i}`,
    ip: `10.40.15.${i + 1}`,
    mac: `02:5b:ff:00:00:${i.toString(16).padStart(2, '0')}`,
    alias: `rfs${i}`,
  }));
}

/** The boot script machine `m` must get from /boot/<mac>/ (Gatehouse renders the same text). */
export function expectedBootScript(m: PlannedMachine): string {
  const rfs = rfsHosts()[m.rfs]!;
  return bootScript({ rfsHostname: rfs.alias, rfsIp: rfs.ip, fallback: false, options: KERNEL_OPTIONS });
}

/** MDB records for `gatehouse mdb import` (JSON lines). */
export function mdbImportLines(machines: readonly PlannedMachine[]): string {
  const rows = [
    ...rfsHosts().map((r) => ({
      hostname: r.hostname,
      aliases: r.alias,
      ip: r.ip,
      mac: r.mac,
      rfs: 0,
      hfs: 0,
      mtype: 'service',
      room: 'other',
    })),
    ...machines.map((m) => ({
      hostname: m.hostname,
      ip: m.ip,
      mac: m.mac,
      rfs: m.rfs,
      hfs: 0,
      mtype: 'user',
      room: 'pasteur',
    })),
  ];
  return `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`;
}

/** /etc/hosts lines for the peers' DNS: the same names Gatehouse serves from MDB. */
export function hostsFile(machines: readonly PlannedMachine[]): string {
  const lines = [
    `${LAN.server} netboot.${LAN.domain} netboot`,
    ...rfsHosts().map(
      (r) => `${r.ip} ${r.hostname}.${LAN.domain} ${r.alias}.${LAN.domain} ${r.hostname} ${r.alias}`,
    ),
    ...machines.map((m) => `${m.ip} ${m.hostname}.${LAN.domain} ${m.hostname}`),
  ];
  return `${lines.join('\n')}\n`;
}
