import fs from 'node:fs';
import path from 'node:path';
import { type SpawnedGatehouse, spawnGatehouse } from './spawn-gatehouse.js';

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
  const dataDir = path.join(dir, 'data');
  const tftpRoot = path.join(dir, 'tftp');
  fs.mkdirSync(tftpRoot, { recursive: true });
  const configYaml = [
    `dataDir: ${JSON.stringify(dataDir)}`,
    'demo: { seed: false }',
    "http: { listen: ['127.0.0.1:0'] }",
    "dns: { listen: ['127.0.0.1:0'] }",
    "dhcp: { listen: '127.0.0.1:0' }",
    `tftp: { listen: ['127.0.0.1:0'], root: ${JSON.stringify(tftpRoot)} }`,
    'log: { level: warn }',
    '',
  ].join('\n');
  const gh = await spawnGatehouse({ configYaml, dir, startTimeoutMs: 60_000 });
  return { gh, configFile: path.join(dir, 'gatehouse.yml'), dataDir };
}

/** Arguments of `gatehouse mdb addmachine` for machine number `i` (distinct hostname and MAC). */
export function addMachineArgs(i: number, configFile: string): string[] {
  const mac = `02:00:00:${[(i >> 16) & 255, (i >> 8) & 255, i & 255].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
  return [
    'mdb',
    'addmachine',
    '--config',
    configFile,
    '--hostname',
    `cli${i}`,
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
