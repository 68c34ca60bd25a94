import fs from 'node:fs';
import path from 'node:path';
import { type SpawnedGatehouse, spawnGatehouse } from './spawn-gatehouse.js';

export interface LoopbackOptions {
  /** More entries of the `http:` map, in YAML flow syntax: `accessLog: { enabled: true, path: "-" }`. */
  http?: string;
  /** More entries of the `dns:` map: `workers: 2`. */
  dns?: string;
  /** Top-level lines added to the configuration: `log: { level: warn }`. */
  extra?: string[];
  /** Run the built CLI (instead of src/ under tsx) and how Node is started (spawnGatehouse). */
  builtMain?: string;
  launch?: 'flags' | 'bare' | 'shebang';
}

export interface LoopbackGatehouse extends SpawnedGatehouse {
  /** What the configuration file holds (a test may write it again with more, then SIGHUP). */
  configYaml: string;
  /** The server's configuration file: what `gatehouse … --config` is given. */
  configFile: string;
  dataDir: string;
  /** `127.0.0.1:<port>` of the HTTP listener, from the listening line. */
  httpAddr: string;
  httpPort: number;
}

/**
 * `gatehouse serve` in a child process on loopback only (every listener on port 0, no demo
 * seed), its configuration, data (`dir/data`) and TFTP root (`dir/tftp`) in `dir`. The caller
 * registers its stop (`t.teardown(() => gh.stop('SIGKILL'))`).
 */
export async function spawnLoopbackGatehouse(
  dir: string,
  opts: LoopbackOptions = {},
): Promise<LoopbackGatehouse> {
  const dataDir = path.join(dir, 'data');
  const tftpRoot = path.join(dir, 'tftp');
  fs.mkdirSync(tftpRoot, { recursive: true });
  const more = (entries: string | undefined) => (entries ? `, ${entries}` : '');
  const configYaml = [
    `dataDir: ${JSON.stringify(dataDir)}`,
    'demo: { seed: false }',
    `http: { listen: ['127.0.0.1:0']${more(opts.http)} }`,
    `dns: { listen: ['127.0.0.1:0']${more(opts.dns)} }`,
    "dhcp: { listen: '127.0.0.1:0' }",
    `tftp: { listen: ['127.0.0.1:0'], root: ${JSON.stringify(tftpRoot)} }`,
    ...(opts.extra ?? []),
    '',
  ].join('\n');
  const gh = await spawnGatehouse({
    configYaml,
    dir,
    startTimeoutMs: 60_000,
    builtMain: opts.builtMain,
    launch: opts.launch,
  });
  const httpAddr = /http (\S+)/.exec(gh.stdout[0]!)![1]!.replace(/,$/, '');
  return {
    ...gh,
    configYaml,
    configFile: path.join(dir, 'gatehouse.yml'),
    dataDir,
    httpAddr,
    httpPort: Number(httpAddr.slice(httpAddr.lastIndexOf(':') + 1)),
  };
}
