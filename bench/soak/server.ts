/**
 * The whole appliance for the soak: `gatehouse serve` from the production build (tsc output, as
 * `npm start` and the Debian unit run it — the tsx loader alone would add ~35 MiB per process),
 * on loopback ports, with a seeded store. Watches its log for error-level lines.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { machinesTable, type Machine } from '../../src/mdb/model.js';
import { allMigrations } from '../../src/migrations.js';
import { Store } from '../../src/store/index.js';
import { type User, usersTable } from '../../src/udb/model.js';
import { freePort } from '../../test/helpers/ports.js';
import { machineRecord } from '../../test/helpers/records.js';
import { buildProduction } from '../build.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, '../..');
const dist = path.join(repo, 'bench/out/soak-dist');

export interface SoakPorts {
  http: number;
  dns: number;
  tftp: number;
  dhcp: number;
}

export function machineName(i: number): string {
  return `m${String(i).padStart(4, '0')}`;
}
export function userName(i: number): string {
  return `u${String(i).padStart(4, '0')}`;
}
/** Machine i's address in 192.168.0.0/22 (192.168.0.10 …). */
export function machineIp(i: number): string {
  const n = 10 + i;
  return `192.168.${n >> 8}.${n & 255}`;
}

function machine(i: number): Machine {
  const hex = i.toString(16).padStart(4, '0');
  return machineRecord({
    hostname: machineName(i),
    ip: machineIp(i),
    mac: `52:54:00:aa:${hex.slice(0, 2)}:${hex.slice(2)}`,
  });
}

function user(i: number): User {
  return {
    login: userName(i),
    firstname: 'Soak',
    lastname: `User${i}`,
    uid: 10000 + i,
    group: 'user',
    password: 'x',
    shell: '/bin/bash',
    ssh_key: null,
    id: 10000 + i,
  };
}

export interface RunningGatehouse {
  proc: ChildProcess;
  pid: number;
  errorLines: string[];
  warnCount: number;
  /** Lines per `level event`, for the report. */
  events: Map<string, number>;
  logLines: number;
  stop(): Promise<number | null>;
}

/** tsc → bench/out/soak-dist (the layout of dist/, so workers are found beside their parents). */
export function build(): void {
  buildProduction(path.basename(dist));
}

export async function seed(dataDir: string, machines: number): Promise<void> {
  const store = await Store.open({ dir: dataDir, migrations: allMigrations });
  await store.write((tx) => {
    for (let i = 0; i < machines; i++) {
      tx.put(machinesTable(store), machineName(i), machine(i));
      tx.put(usersTable(store), userName(i), user(i));
    }
  });
  await store.close();
}

export function configYaml(opts: {
  dataDir: string;
  tftpRoot: string;
  ports: SoakPorts;
  dnsWorkers?: string;
}): string {
  return [
    `dataDir: ${opts.dataDir}`,
    'demo: { seed: false }',
    'log: { level: info }',
    // The relay-only DHCP socket on loopback, the alien network moved to 127.0.0.0/24 so the
    // soak's relay (giaddr 127.0.0.1) names a served network (as test/dhcp/server.test.ts). A
    // /24 as in production: DNS names every alien address (unknown-N), ~1.7 KiB of heap each.
    "network: { lan: '192.168.0.0/22', alien: '127.0.0.0/24', alienGateway: '127.0.0.254' }",
    `http: { listen: ['127.0.0.1:${opts.ports.http}'] }`,
    `dns: { listen: ['127.0.0.1:${opts.ports.dns}']${opts.dnsWorkers ? `, workers: ${opts.dnsWorkers}` : ''} }`,
    `tftp: { listen: ['127.0.0.1:${opts.ports.tftp}'], root: '${opts.tftpRoot}' }`,
    `dhcp: { listen: '127.0.0.1:${opts.ports.dhcp}', alien: { rangeStart: '127.0.0.100', rangeEnd: '127.0.0.250' } }`,
    '',
  ].join('\n');
}

export async function startGatehouse(configFile: string, nodeArgs: string[] = []): Promise<RunningGatehouse> {
  const proc = spawn(
    process.execPath,
    [...nodeArgs, path.join(dist, 'cli/main.js'), 'serve', '--config', configFile],
    {
      cwd: repo,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '' },
    },
  );
  const g: RunningGatehouse = {
    proc,
    pid: proc.pid!,
    errorLines: [],
    warnCount: 0,
    events: new Map(),
    logLines: 0,
    stop: () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null) return resolve(proc.exitCode);
        proc.once('exit', (code) => resolve(code));
        proc.kill('SIGTERM');
      }),
  };
  let rest = '';
  proc.stderr!.on('data', (d: Buffer) => {
    const lines = (rest + d.toString()).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      g.logLines++;
      const error = line.includes('"level":"error"') || !line.startsWith('{');
      const warn = !error && line.includes('"level":"warn"');
      if (error) g.errorLines.push(line);
      if (warn) g.warnCount++;
      if (error || warn) {
        const key = `${error ? 'error' : 'warn'} ${/"event":"([^"]+)"/.exec(line)?.[1] ?? line.slice(0, 60)}`;
        g.events.set(key, (g.events.get(key) ?? 0) + 1);
      }
    }
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('gatehouse did not start within 60 s')), 60_000);
    proc.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('gatehouse listening')) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.on('exit', (code) => reject(new Error(`gatehouse exited with ${code}: ${g.errorLines.join('\n')}`)));
  });
  return g;
}

export function writeTftpRoot(root: string): { small: string; big: string } {
  fs.mkdirSync(root, { recursive: true });
  fs.writeFileSync(path.join(root, 'pxelinux.0'), Buffer.alloc(32 * 1024, 7));
  fs.writeFileSync(path.join(root, 'vmlinuz'), Buffer.alloc(1024 * 1024, 9));
  return { small: 'pxelinux.0', big: 'vmlinuz' };
}

/**
 * One soak server from scratch: a temporary folder with its data dir, TFTP root and config on
 * free loopback ports, the production build, the seeded store, and the running process.
 */
export async function startSoakServer(opts: {
  name: string;
  machines: number;
  dnsWorkers?: string;
  nodeArgs?: string[];
}): Promise<{
  dir: string;
  dataDir: string;
  files: { small: string; big: string };
  ports: SoakPorts;
  gh: RunningGatehouse;
}> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `gatehouse-${opts.name}-`));
  const dataDir = path.join(dir, 'data');
  const files = writeTftpRoot(path.join(dir, 'tftp'));
  const ports = {
    http: await freePort(),
    dns: await freePort(),
    tftp: await freePort(),
    dhcp: await freePort(),
  };
  const configFile = path.join(dir, 'gatehouse.yml');
  fs.writeFileSync(
    configFile,
    configYaml({
      dataDir,
      tftpRoot: path.join(dir, 'tftp'),
      ports,
      ...(opts.dnsWorkers ? { dnsWorkers: opts.dnsWorkers } : {}),
    }),
  );
  console.log('building (tsc) …');
  build();
  await seed(dataDir, opts.machines);
  const gh = await startGatehouse(configFile, opts.nodeArgs ?? []);
  return { dir, dataDir, files, ports, gh };
}
