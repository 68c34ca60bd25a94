import type { ChildProcess } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { machinesTable } from '../../src/mdb/model.js';
import { allMigrations } from '../../src/migrations.js';
import { Store } from '../../src/store/index.js';
import { usersTable } from '../../src/udb/model.js';
import { type LanClient, type LanTopology, createLan } from '../helpers/netns.js';
import { type SpawnedGatehouse, repoRoot, spawnGatehouse } from '../helpers/spawn-gatehouse.js';
import { tempDir } from '../helpers/tmp.js';
import { ADDR, MACHINES, USERS, nsRun, nsSpawn, startInternetServer } from './lab.js';

/**
 * The whole appliance (`gatehouse serve`, firewall enabled) for the end-to-end firewall tests:
 * the lab's namespaces (lab.ts), the contestant addresses on the LAN client, the "Internet"
 * server, and a data directory seeded with the lab's machines and users. Unlike `startLab`
 * (the firewall service alone, fixtures/gateway.ts) presence comes from the real presencesync.
 */
export interface ServeLab {
  lan: LanTopology;
  /** The LAN client holding ADDR.contestant and ADDR.contestant2, routed through the gateway. */
  c0: LanClient;
  dir: string;
  dataDir: string;
  configFile: string;
  /** Long-running helpers (Internet server, heartbeats…), SIGKILLed at teardown. */
  children: ChildProcess[];
  /** Starts `gatehouse serve` in the gateway namespace; the caller registers its stop. */
  start(): Promise<SpawnedGatehouse>;
  /** The addresses in the kernel's allowed set, read through nft (a CLI start costs seconds under tsx). */
  allowedNow(): Promise<string[]>;
  /** Polls `pred` every 200 ms; throws naming `what` after `timeoutMs`. */
  until(what: string, pred: () => Promise<boolean>, timeoutMs: number): Promise<void>;
  /** `gatehouse presence fake aproviste m01` from the client: a session kept by heartbeats every `everyS`. */
  spawnHeartbeat(everyS: number): ChildProcess;
}

export const PRESENCESYNC_PUB = 'demo-presencesync-pub';

export async function startServeLab(
  t: { teardown(fn: () => void | Promise<void>): void },
  opts: { prefix: string; tmpPrefix: string; presenceTimeoutS: number; startTimeoutMs: number },
): Promise<ServeLab> {
  const lan = await createLan({ prefix: opts.prefix, clients: 1 });
  const children: ChildProcess[] = [];
  t.teardown(async () => {
    for (const c of children) c.kill('SIGKILL');
    await lan.destroy();
  });
  const c0 = lan.clients[0]!;
  for (const a of [ADDR.contestant, ADDR.contestant2])
    await c0.exec('ip', ['addr', 'add', `${a}/23`, 'dev', 'eth0']);
  await c0.exec('ip', ['route', 'add', 'default', 'via', '192.168.1.254', 'src', ADDR.contestant]);
  await startInternetServer(lan, children);

  const dir = tempDir(t, opts.tmpPrefix);
  const dataDir = path.join(dir, 'data');
  const store = await Store.open({ dir: dataDir, migrations: allMigrations });
  await store.write((tx) => {
    for (const m of MACHINES) tx.put(machinesTable(store), m.hostname, m);
    for (const u of USERS) tx.put(usersTable(store), u.login, u);
  });
  await store.close();
  const configYaml = [
    `dataDir: ${dataDir}`,
    'demo: { seed: false }',
    "http: { listen: ['0.0.0.0:80'] }",
    "dns: { listen: ['127.0.0.1:0'] }",
    "tftp: { listen: ['127.0.0.1:0'] }",
    "dhcp: { listen: '127.0.0.1:0' }",
    `presence: { timeout: ${opts.presenceTimeoutS} }`,
    'firewall: { enabled: true, lanInterfaces: [lan0], uplinkInterfaces: [uplink] }',
    '',
  ].join('\n');
  // spawnGatehouse passes our environment on: drop tap's loader from it (see lab.ts childEnv).
  delete process.env.NODE_OPTIONS;

  return {
    lan,
    c0,
    dir,
    dataDir,
    configFile: path.join(dir, 'gatehouse.yml'),
    children,
    start: () => spawnGatehouse({ dir, netns: lan.gw, configYaml, startTimeoutMs: opts.startTimeoutMs }),
    async allowedNow() {
      const r = await nsRun(lan.gw.name, [
        'nft',
        '-j',
        'list',
        'set',
        'inet',
        'gatehouse',
        'allowed_internet_access',
      ]);
      const doc = JSON.parse(r.stdout || '{"nftables":[]}') as {
        nftables: Array<{ set?: { elem?: string[] } }>;
      };
      return doc.nftables.find((o) => o.set)?.set?.elem ?? [];
    },
    async until(what, pred, timeoutMs) {
      const end = Date.now() + timeoutMs;
      while (!(await pred())) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        await sleep(200);
      }
    },
    spawnHeartbeat(everyS) {
      const p = nsSpawn(c0.name, [
        process.execPath,
        '--import',
        'tsx',
        path.join(repoRoot, 'src/cli/main.ts'),
        'presence',
        'fake',
        'aproviste',
        'm01',
        '--every',
        String(everyS),
        '--url',
        'http://192.168.1.254/',
        '--host-header',
        'presencesync',
        '--secret',
        PRESENCESYNC_PUB,
      ]);
      children.push(p);
      return p;
    },
  };
}
