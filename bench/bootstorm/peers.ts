/**
 * The server stacks a storm runs against, each started fresh (empty lease database) in the
 * server namespace with the same machines, addresses and boot file:
 *   gatehouse  - `gatehouse serve` as in production: machines imported into MDB with
 *                `gatehouse mdb import`, raw DHCP socket on lan0, TFTP/HTTP/DNS on the server
 *                address, default log level (info);
 *   dnsmasq    - dnsmasq (DHCP + TFTP + DNS, --no-ping, dhcp-host lines) + nginx;
 *   kea        - Kea (memfile, reservations) + tftpd-hpa + nginx, with dnsmasq as DNS only
 *                (the original stack's BIND is replaced by the lightest authoritative server).
 * nginx serves /bootstrap and /boot/<mac>/ as static files with the very text Gatehouse renders.
 * Every process of a stack runs in one cgroup (CPU of forked children included).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { renderBootstrap } from '../../src/http/netboot/bootstrap.js';
import type { Netns } from '../../test/helpers/netns.js';
import { SERVE_NODE_FLAGS } from '../../src/runtime-flags.js';
import { repoRoot, spawnGatehouse } from '../../test/helpers/spawn-gatehouse.js';
import {
  BOOT_FILE,
  expectedBootScript,
  hostsFile,
  IPXE_CHAIN_URL,
  KERNEL_OPTIONS,
  LAN,
  mdbImportLines,
  type PlannedMachine,
} from './plan.js';
import { describeJit, summarizeJit } from './jit-report.js';
import { CpuGroup } from './probes.js';

export const STACKS = ['gatehouse', 'dnsmasq', 'kea'] as const;
export type StackName = (typeof STACKS)[number];

export interface StackContext {
  ns: Netns;
  iface: string;
  /** Fresh, world-readable directory of this run. */
  dir: string;
  /** Holds BOOT_FILE. */
  tftpRoot: string;
  machines: readonly PlannedMachine[];
  /** How Gatehouse is launched (see GatehouseLaunch). */
  gatehouse: GatehouseLaunch;
}

/**
 * `builtMain`: the production build's cli/main.js (bench/build.ts), what the systemd unit runs;
 * undefined runs src/ under tsx (the loader's own cost and ~35 MB more memory). `nodeArgs`:
 * extra node flags for profiling (`--cpu-prof`, `--perf-basic-prof`). `bareNode`: start Node
 * without the flags production starts it with (src/runtime-flags.ts), to measure what they buy.
 */
export interface GatehouseLaunch {
  builtMain?: string;
  nodeArgs: string[];
  bareNode?: boolean;
}

export interface RunningStack {
  name: StackName;
  group: CpuGroup;
  /** Lines of interest from the server's own log (Gatehouse: warnings and overload events). */
  notes(): string[];
  stop(): Promise<void>;
}

const SERVER_PORTS = { udp: [67, 69, 53], tcp: [80] };

/** Runs `cmd` in `ns` inside `group` with a generous file limit (dnsmasq sizes --tftp-max to it). */
function spawnInGroup(ctx: StackContext, group: CpuGroup, name: string, cmd: string, args: string[]) {
  const join = group.procsFile ? `echo $$ > ${group.procsFile}; ` : '';
  const log = fs.openSync(path.join(ctx.dir, `${name}.out`), 'a');
  const child = spawn(
    'sh',
    ['-c', `${join}ulimit -n 65536; exec ip netns exec "$0" "$@"`, ctx.ns.name, cmd, ...args],
    {
      stdio: ['ignore', log, log],
    },
  );
  fs.closeSync(log);
  return child;
}

async function waitListening(
  ctx: StackContext,
  what: string,
  exited: () => string | undefined,
): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const udp = (await ctx.ns.exec('ss', ['-Hlnu'], { allowFail: true })).stdout;
    const tcp = (await ctx.ns.exec('ss', ['-Hlnt'], { allowFail: true })).stdout;
    const has = (text: string, port: number) => new RegExp(`:${port}\\s`).test(text);
    // Kea and Gatehouse receive DHCP on raw sockets; port 67 shows only through their UDP guard.
    if (SERVER_PORTS.udp.every((p) => has(udp, p)) && SERVER_PORTS.tcp.every((p) => has(tcp, p))) return;
    const gone = exited();
    if (gone) throw new Error(`${what}: ${gone}`);
    if (Date.now() > deadline)
      throw new Error(`${what}: not listening on 67, 69, 53/udp and 80/tcp after 60 s (see ${ctx.dir})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function stopGroup(group: CpuGroup): Promise<void> {
  const file = group.procsFile;
  const pids = () =>
    file && fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number) : [];
  for (const sig of ['SIGTERM', 'SIGKILL'] as const) {
    for (const pid of pids()) {
      try {
        process.kill(pid, sig);
      } catch {
        // gone
      }
    }
    for (let i = 0; i < 30 && pids().length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    if (pids().length === 0) break;
  }
  await group.remove();
}

function nginxConfig(ctx: StackContext): string {
  const www = path.join(ctx.dir, 'www');
  fs.mkdirSync(path.join(www, 'boot'), { recursive: true, mode: 0o755 });
  fs.writeFileSync(path.join(www, 'bootstrap'), renderBootstrap([], 'http://netboot'));
  for (const m of ctx.machines) {
    fs.mkdirSync(path.join(www, 'boot', m.mac), { mode: 0o755 });
    fs.writeFileSync(path.join(www, 'boot', m.mac, 'script.ipxe'), expectedBootScript(m));
  }
  const d = ctx.dir;
  return `worker_processes auto;
worker_rlimit_nofile 65536;
pid ${d}/nginx.pid;
error_log ${d}/nginx-error.log;
events { worker_connections 16384; }
http {
  access_log ${d}/nginx-access.log;
  client_body_temp_path ${d}/nginx-body;
  proxy_temp_path ${d}/nginx-proxy;
  fastcgi_temp_path ${d}/nginx-fastcgi;
  uwsgi_temp_path ${d}/nginx-uwsgi;
  scgi_temp_path ${d}/nginx-scgi;
  default_type text/plain;
  server {
    listen ${LAN.server}:80 default_server;
    server_name netboot;
    root ${www};
    location = /bootstrap { }
    location /boot/ { index script.ipxe; }
  }
}
`;
}

function startNginx(ctx: StackContext, group: CpuGroup) {
  const conf = path.join(ctx.dir, 'nginx.conf');
  fs.writeFileSync(conf, nginxConfig(ctx));
  return spawnInGroup(ctx, group, 'nginx', 'nginx', ['-c', conf, '-g', 'daemon off;']);
}

/** dnsmasq's DNS part: the same names as Gatehouse's MDB zone. */
function dnsArgs(ctx: StackContext): string[] {
  const hosts = path.join(ctx.dir, 'hosts');
  fs.writeFileSync(hosts, hostsFile(ctx.machines));
  return [
    '--no-resolv',
    '--no-hosts',
    `--addn-hosts=${hosts}`,
    `--domain=${LAN.domain}`,
    `--local=/${LAN.domain}/`,
  ];
}

function dnsmasqCommon(ctx: StackContext, name: string): string[] {
  return [
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--user=root',
    `--pid-file=${path.join(ctx.dir, `${name}.pid`)}`,
    `--interface=${ctx.iface}`,
    '--bind-interfaces',
    `--log-facility=${path.join(ctx.dir, `${name}.log`)}`,
  ];
}

async function startGatehouse(ctx: StackContext): Promise<RunningStack> {
  const dataDir = path.join(ctx.dir, 'data');
  const configYaml = [
    `dataDir: ${dataDir}`,
    'demo: { seed: false }',
    `network: { lan: ${LAN.network}, gateway: ${LAN.server}, cluster: ${LAN.cluster}, alien: ${LAN.alien}, alienGateway: ${LAN.alienGateway}, trusted: [10.40.0.0/16, 127.0.0.0/8] }`,
    `http: { listen: ["${LAN.server}:80"] }`,
    `dns: { listen: ["${LAN.server}:53"] }`,
    `dhcp: { interfaces: [${ctx.iface}], subnets: [{ network: ${LAN.network}, bootFile: ${BOOT_FILE} }], ipxe: { chainUrl: "${IPXE_CHAIN_URL}" } }`,
    `tftp: { listen: ["${LAN.server}:69"], root: ${ctx.tftpRoot} }`,
    `netboot: { options: "${KERNEL_OPTIONS}" }`,
    '',
  ].join('\n');
  const configFile = path.join(ctx.dir, 'gatehouse.yml');
  fs.writeFileSync(configFile, configYaml);
  const machinesFile = path.join(ctx.dir, 'machines.jsonl');
  fs.writeFileSync(machinesFile, mdbImportLines(ctx.machines));
  const imported = await ctx.ns.exec(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(repoRoot, 'src/cli/main.ts'),
      'mdb',
      'import',
      machinesFile,
      '--config',
      configFile,
    ],
    { allowFail: true, timeoutMs: 120_000 },
  );
  if (imported.code !== 0)
    throw new Error(`gatehouse mdb import failed: ${imported.stderr || imported.stdout}`);
  const gh = await spawnGatehouse({
    dir: ctx.dir,
    netns: ctx.ns,
    configYaml,
    startTimeoutMs: 90_000,
    ...(ctx.gatehouse.builtMain ? { builtMain: ctx.gatehouse.builtMain } : {}),
    nodeArgs: ctx.gatehouse.nodeArgs,
    launch: ctx.gatehouse.bareNode ? 'bare' : 'flags',
  });
  const group = new CpuGroup(`bootstorm-gatehouse`, gh.proc.pid);
  await waitListening(ctx, 'gatehouse', () =>
    gh.proc.exitCode !== null ? `exited ${gh.proc.exitCode}` : undefined,
  );
  // spawnGatehouse resolved once the process settled after its start-up warm-ups (they are not
  // the storm's CPU). Everything V8 printed from here on is the storm's (and the bench's lone
  // warm-up machine's).
  const quietMark = gh.stdout.length;
  const traced = ctx.gatehouse.nodeArgs.includes('--trace-opt');
  return {
    name: 'gatehouse',
    group,
    notes: () => {
      const counts = new Map<string, number>();
      for (const l of gh.logs) {
        if (l.level === 'warn' || l.level === 'error' || String(l.event).includes('overload')) {
          const key = `${String(l.level)} ${String(l.event)}`;
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
      }
      const infoLines = gh.logs.filter((l) => l.level === 'info').length;
      // The whole trace of the storm, for a list longer than the summary's top 20.
      const jitLog = process.env.BOOTSTORM_JIT_LOG;
      if (traced && jitLog) fs.writeFileSync(jitLog, `${gh.stdout.slice(quietMark).join('\n')}\n`);
      return [
        // How Node was started: a storm after an idle wait depends on it (src/runtime-flags.ts).
        ctx.gatehouse.bareNode ? 'bare node' : `node ${SERVE_NODE_FLAGS.join(' ')}`,
        `${infoLines} info lines logged`,
        ...[...counts].map(([k, n]) => `${n} × ${k}`),
        ...(traced ? describeJit(summarizeJit(gh.stdout.slice(quietMark))) : []),
      ];
    },
    async stop() {
      await gh.stop();
      await group.remove();
    },
  };
}

async function startDnsmasq(ctx: StackContext): Promise<RunningStack> {
  const group = new CpuGroup('bootstorm-dnsmasq');
  const hostsDhcp = path.join(ctx.dir, 'dhcp-hosts');
  fs.writeFileSync(hostsDhcp, `${ctx.machines.map((m) => `${m.mac},${m.ip},${m.hostname}`).join('\n')}\n`);
  const net = LAN.network.split('/')[0]!;
  const dnsmasq = spawnInGroup(ctx, group, 'dnsmasq', 'dnsmasq', [
    ...dnsmasqCommon(ctx, 'dnsmasq'),
    ...dnsArgs(ctx),
    `--dhcp-range=${net},static,${LAN.mask},14400`,
    `--dhcp-hostsfile=${hostsDhcp}`,
    '--dhcp-userclass=set:ipxe,iPXE',
    `--dhcp-boot=tag:!ipxe,${BOOT_FILE},,${LAN.server}`,
    `--dhcp-boot=tag:ipxe,${IPXE_CHAIN_URL}`,
    `--dhcp-option=option:router,${LAN.server}`,
    `--dhcp-option=option:domain-name,${LAN.domain}`,
    '--dhcp-authoritative',
    '--no-ping',
    '--dhcp-lease-max=10000',
    `--dhcp-leasefile=${path.join(ctx.dir, 'dnsmasq.leases')}`,
    '--enable-tftp',
    `--tftp-root=${ctx.tftpRoot}`,
    '--tftp-max=4000',
  ]);
  const nginx = startNginx(ctx, group);
  const exited = () =>
    dnsmasq.exitCode !== null
      ? `dnsmasq exited ${dnsmasq.exitCode}`
      : nginx.exitCode !== null
        ? `nginx exited ${nginx.exitCode}`
        : undefined;
  await waitListening(ctx, 'dnsmasq + nginx', exited);
  return { name: 'dnsmasq', group, notes: () => [], stop: () => stopGroup(group) };
}

async function startKea(ctx: StackContext): Promise<RunningStack> {
  const group = new CpuGroup('bootstorm-kea');
  const config = path.join(ctx.dir, 'kea.json');
  fs.writeFileSync(
    config,
    JSON.stringify({
      Dhcp4: {
        'interfaces-config': { interfaces: [ctx.iface] },
        'lease-database': {
          type: 'memfile',
          persist: true,
          name: path.join(ctx.dir, 'kea-leases.csv'),
          'lfc-interval': 0,
        },
        'valid-lifetime': 14400,
        authoritative: true,
        'client-classes': [
          { name: 'ipxe', test: "option[77].hex == 'iPXE'", 'boot-file-name': IPXE_CHAIN_URL },
        ],
        subnet4: [
          {
            id: 1,
            subnet: LAN.network,
            'next-server': LAN.server,
            'boot-file-name': BOOT_FILE,
            'option-data': [
              { name: 'routers', data: LAN.server },
              { name: 'domain-name-servers', data: LAN.server },
              { name: 'domain-name', data: LAN.domain },
            ],
            reservations: ctx.machines.map((m) => ({
              'hw-address': m.mac,
              'ip-address': m.ip,
              hostname: m.hostname,
            })),
          },
        ],
        loggers: [
          {
            name: 'kea-dhcp4',
            output_options: [{ output: path.join(ctx.dir, 'kea.log') }],
            severity: 'INFO',
          },
        ],
      },
    }),
  );
  const kea = spawnInGroup(ctx, group, 'kea', 'env', [
    `KEA_PIDFILE_DIR=${ctx.dir}`,
    `KEA_LOCKFILE_DIR=${ctx.dir}`,
    'kea-dhcp4',
    '-c',
    config,
  ]);
  const tftpd = spawnInGroup(ctx, group, 'tftpd-hpa', 'in.tftpd', [
    '--foreground',
    '--address',
    `${LAN.server}:69`,
    '--secure',
    '--user',
    'root',
    ctx.tftpRoot,
  ]);
  const dns = spawnInGroup(ctx, group, 'dnsmasq-dns', 'dnsmasq', [
    ...dnsmasqCommon(ctx, 'dnsmasq-dns'),
    ...dnsArgs(ctx),
  ]);
  const nginx = startNginx(ctx, group);
  const exited = () => {
    for (const [n, p] of [
      ['kea-dhcp4', kea],
      ['in.tftpd', tftpd],
      ['dnsmasq', dns],
      ['nginx', nginx],
    ] as const) {
      if (p.exitCode !== null) return `${n} exited ${p.exitCode}`;
    }
    return undefined;
  };
  await waitListening(ctx, 'kea + tftpd-hpa + nginx', exited);
  return { name: 'kea', group, notes: () => [], stop: () => stopGroup(group) };
}

export function startStack(name: StackName, ctx: StackContext): Promise<RunningStack> {
  switch (name) {
    case 'gatehouse':
      return startGatehouse(ctx);
    case 'dnsmasq':
      return startDnsmasq(ctx);
    case 'kea':
      return startKea(ctx);
  }
}
