import { spawnLoopbackGatehouse } from './loopback-gatehouse.js';
import type { SpawnedGatehouse } from './spawn-gatehouse.js';

export interface CliServer {
  gh: SpawnedGatehouse;
  /** The server's configuration file: what `gatehouse … --config` is given. */
  configFile: string;
  dataDir: string;
}

/**
 * `gatehouse serve` in a child process on loopback only (every listener on port 0), with its
 * data in `dir`: the server a CLI command finds through `<dataDir>/gatehouse.pid`.
 */
export async function startCliServer(dir: string): Promise<CliServer> {
  const gh = await spawnLoopbackGatehouse(dir, { extra: ['log: { level: warn }'] });
  return { gh, configFile: gh.configFile, dataDir: gh.dataDir };
}

/** Arguments of `gatehouse mdb addmachine` for machine number `i` (distinct hostname and MAC). */
export function addMachineArgs(i: number, configFile: string): string[] {
  const mac = `02:00:00:${[(i >> 16) & 255, (i >> 8) & 255, i & 255].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
  return ['mdb', 'addmachine', '--config', configFile, ...userMachineFields(`cli${i}`, mac)];
}

/** The fields `gatehouse mdb addmachine` needs for a user machine in room pasteur (its address allocated). */
export function userMachineFields(hostname: string, mac: string): string[] {
  return [
    '--hostname',
    hostname,
    '--mac',
    mac,
    '--aliases',
    '',
    '--rfs',
    '0',
    '--hfs',
    '0',
    '--mtype',
    'user',
    '--room',
    'pasteur',
  ];
}
