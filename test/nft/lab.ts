import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { GatehouseConfigInput } from '../../src/config/index.js';
import type { Machine } from '../../src/mdb/model.js';
import type { User } from '../../src/udb/model.js';
import { type LanTopology, createLan } from '../helpers/netns.js';
import { machineRecord } from '../helpers/records.js';
import { repoRoot } from '../helpers/spawn-gatehouse.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * The firewall lab: gateway namespace running the firewall service (fixtures/gateway.ts) with
 * `lan0` and `uplink`, an "Internet" namespace with the test server, and one LAN client
 * namespace holding the addresses of several machines (a contestant's, an organizer's, a
 * server's, an alien's) so each test picks its source address.
 */
export const ADDR = {
  contestant: '192.168.0.1',
  contestant2: '192.168.0.2',
  orgaOnUserMachine: '192.168.0.3',
  orga: '192.168.0.100',
  server: '192.168.1.10',
  alien: '192.168.250.10',
} as const;

export const MACHINES: Machine[] = [
  machine('m01', ADDR.contestant, 'user'),
  machine('m02', ADDR.contestant2, 'user'),
  machine('m03', ADDR.orgaOnUserMachine, 'user'),
  machine('orga01', ADDR.orga, 'orga'),
  machine('srv01', ADDR.server, 'service'),
];

export const USERS: User[] = [
  user('aproviste', 'user', 10000),
  user('bcontest', 'user', 10001),
  user('cana_p', 'orga', 20000),
  user('root', 'root', 0),
];

function machine(hostname: string, ip: string, mtype: Machine['mtype']): Machine {
  return machineRecord({ hostname, ip, mac: '', mtype });
}

function user(login: string, group: User['group'], uid: number): User {
  return {
    login,
    firstname: login,
    lastname: login,
    uid,
    group,
    password: 'x',
    shell: '/bin/bash',
    ssh_key: null,
    id: uid,
  };
}

export interface GatewayReply {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
  code?: string;
}

/** The firewall service in the gateway namespace, driven over stdin/stdout. */
export class Gateway {
  readonly logs: Array<Record<string, unknown>> = [];
  private readonly pending = new Map<number, (r: GatewayReply) => void>();
  private nextId = 1;
  private readonly ready: Promise<void>;

  constructor(
    readonly proc: ChildProcess,
    readonly dataDir: string,
  ) {
    let out = '';
    let err = '';
    let readyResolve!: () => void;
    this.ready = new Promise((r) => (readyResolve = r));
    proc.stdout!.on('data', (d: Buffer) => {
      const lines = (out + d.toString()).split('\n');
      out = lines.pop() ?? '';
      for (const line of lines) {
        const r = JSON.parse(line) as GatewayReply;
        if (r.id === 0) readyResolve();
        this.pending.get(r.id)?.(r);
        this.pending.delete(r.id);
      }
    });
    proc.stderr!.on('data', (d: Buffer) => {
      const lines = (err + d.toString()).split('\n');
      err = lines.pop() ?? '';
      for (const line of lines) {
        try {
          this.logs.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          this.logs.push({ event: 'stderr', line });
        }
      }
    });
    proc.on('exit', (code) => {
      for (const [id, fn] of this.pending)
        fn({ id, ok: false, error: `gateway process exited with ${code}` });
      this.pending.clear();
    });
  }

  async call<T = unknown>(op: string, args: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<T> {
    await this.ready;
    const id = this.nextId++;
    const reply = await new Promise<GatewayReply>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`gateway op ${op} timed out`)), timeoutMs);
      this.pending.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.proc.stdin!.write(`${JSON.stringify({ id, op, ...args })}\n`);
    });
    if (!reply.ok)
      throw Object.assign(new Error(`gateway op ${op} failed: ${reply.error}`), { code: reply.code });
    return reply.result as T;
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  stop(): Promise<void> {
    if (!this.alive) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
      this.proc.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.proc.stdin!.end();
    });
  }
}

export interface Lab {
  lan: LanTopology;
  gw: Gateway;
  dataDir: string;
  /** Runs curl from `src` in the client namespace; resolves with the body, or null when it could not connect. */
  fetchFrom(src: string, timeoutS?: number): Promise<string | null>;
  client(args: string[]): Promise<Record<string, unknown>>;
  /** Starts a probe in the client namespace: `probing` resolves once it gets echoes, `result` at its end. */
  startProbe(
    src: string,
    durationMs: number,
    concurrency: number,
  ): { probing: Promise<void>; result: Promise<{ sent: number; ok: number; lost: number }> };
  /** Starts the gateway process again on the same data directory (restart). */
  restartGateway(configOverrides?: GatehouseConfigInput): Promise<Gateway>;
  connectionLog(): Promise<string[]>;
  internetAddr: string;
  uplinkAddr: string;
}

/**
 * tap puts its process-info loader in NODE_OPTIONS so every child Node process loads it; our
 * many short-lived children (tsx already costs seconds each) do not need it.
 */
export const childEnv: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' };

function spawnIn(ns: string, args: string[]): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns, ...args], {
    cwd: repoRoot,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: childEnv,
  });
}

function run(
  ns: string,
  args: string[],
  timeoutMs = 20_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawnIn(ns, args);
    p.stdin!.end();
    let stdout = '';
    let stderr = '';
    p.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

export const labFirewallConfig = (dataDir: string) => ({
  firewall: {
    enabled: true,
    lanInterfaces: ['lan0'],
    uplinkInterfaces: ['uplink'],
    connectionLog: { path: path.join(dataDir, 'connections.log') },
  } satisfies NonNullable<NonNullable<GatehouseConfigInput>['firewall']>,
});

/** Starts the test server of the "Internet" namespace (fixtures/internet.ts) into `children`; resolves once it answers. */
export async function startInternetServer(lan: LanTopology, children: ChildProcess[]): Promise<void> {
  const internet = spawnIn(lan.internet.name, [
    process.execPath,
    '--import',
    'tsx',
    path.join(repoRoot, 'test/nft/fixtures/internet.ts'),
  ]);
  children.push(internet);
  await new Promise<void>((resolve, reject) => {
    internet.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    internet.on('exit', (code) => reject(new Error(`internet server exited with ${code}`)));
  });
}

export async function startLab(
  t: { teardown(fn: () => void | Promise<void>): void },
  prefix: string,
  overrides: GatehouseConfigInput = {},
): Promise<Lab> {
  const lan = await createLan({ prefix, clients: 1 });
  const children: ChildProcess[] = [];
  let gw: Gateway | undefined;
  t.teardown(async () => {
    await gw?.stop();
    for (const c of children) c.kill('SIGKILL');
    await lan.destroy();
  });
  const c0 = lan.clients[0]!;
  const addrs: Array<[string, number]> = [
    [ADDR.contestant, 23],
    [ADDR.contestant2, 23],
    [ADDR.orgaOnUserMachine, 23],
    [ADDR.orga, 23],
    [ADDR.server, 23],
    [ADDR.alien, 24],
  ];
  for (const [a, len] of addrs) await c0.exec('ip', ['addr', 'add', `${a}/${len}`, 'dev', 'eth0']);
  await c0.exec('ip', ['route', 'add', 'default', 'via', '192.168.1.254', 'src', ADDR.contestant]);

  await startInternetServer(lan, children);

  const dataDir = tempDir(t, 'ghfw-');
  const startGateway = async (more: GatehouseConfigInput) => {
    const cfg = { ...labFirewallConfig(dataDir), ...overrides, ...more };
    const proc = spawnIn(lan.gw.name, [
      process.execPath,
      '--import',
      'tsx',
      path.join(repoRoot, 'test/nft/fixtures/gateway.ts'),
      dataDir,
      JSON.stringify(cfg),
    ]);
    const g = new Gateway(proc, dataDir);
    await g.call('start');
    return g;
  };
  gw = await startGateway({});

  const lab: Lab = {
    lan,
    gw,
    dataDir,
    internetAddr: lan.uplink.internet,
    uplinkAddr: lan.uplink.gw,
    async fetchFrom(src, timeoutS = 1) {
      const r = await run(c0.name, [
        'curl',
        '-sS',
        '--interface',
        src,
        '--connect-timeout',
        String(timeoutS),
        '-m',
        String(timeoutS + 2),
        `http://${lan.uplink.internet}:443/`,
      ]);
      return r.code === 0 ? r.stdout.trim() : null;
    },
    async client(args) {
      const r = await run(
        c0.name,
        [process.execPath, '--import', 'tsx', path.join(repoRoot, 'test/nft/fixtures/client.ts'), ...args],
        60_000,
      );
      if (r.code !== 0) throw new Error(`client ${args.join(' ')} failed: ${r.stderr}`);
      return JSON.parse(r.stdout.trim()) as Record<string, unknown>;
    },
    startProbe(src, durationMs, concurrency) {
      const p = spawnIn(c0.name, [
        process.execPath,
        '--import',
        'tsx',
        path.join(repoRoot, 'test/nft/fixtures/client.ts'),
        'probe',
        src,
        lan.uplink.internet,
        String(durationMs),
        String(concurrency),
      ]);
      children.push(p);
      p.stdin!.end();
      let out = '';
      p.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
      });
      const probing = new Promise<void>((resolve, reject) => {
        p.stderr!.on('data', (d: Buffer) => d.toString().includes('probing') && resolve());
        p.on('exit', () => reject(new Error('probe ended before it could reach the server')));
      });
      const result = new Promise<{ sent: number; ok: number; lost: number }>((resolve, reject) => {
        p.on('exit', (code) =>
          code === 0
            ? resolve(JSON.parse(out.trim()) as { sent: number; ok: number; lost: number })
            : reject(new Error(`probe exited ${code}`)),
        );
      });
      probing.catch(() => {});
      return { probing, result };
    },
    async restartGateway(more = {}) {
      await gw?.stop();
      gw = await startGateway(more);
      lab.gw = gw;
      return gw;
    },
    async connectionLog() {
      const file = await lab.gw.call<string>('flush');
      return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
    },
  };
  return lab;
}

/** Runs a command in a namespace (nft, conntrack…). */
export function nsRun(ns: string, args: string[], timeoutMs?: number) {
  return run(ns, args, timeoutMs);
}

export function nsSpawn(ns: string, args: string[]): ChildProcess {
  return spawnIn(ns, args);
}
