/**
 * DHCP DORA rate: Gatehouse vs Kea 2.2 (memfile) vs dnsmasq, same namespaces, same pool, same
 * perfdhcp runs, one server at a time. Needs root.
 *
 *   node --import tsx bench/dhcp/run.ts [--period 5] [--rates 3000] [--max 40000] [--clients 60000] [--rounds 1]
 *                                       [--only gatehouse,gatehouse-udp,kea,dnsmasq] [--pin 0,1|none]
 *                                       [--warmup 2] [--exit-wait-ms 1000] [--node-args "--cpu-prof …"] [--perf /tmp/prefix]
 *   (--max 0: fixed rates only)
 *
 * Topology (test/helpers/netns.ts): perfdhcp in `ghdhb-c0` at 10.10.255.1 acts as a relay agent
 * (giaddr = its address, as perfdhcp always does); every server runs in `ghdhb-gw` on `lan0`
 * (10.10.255.254/16) and serves 10.10.0.1-10.10.254.254 with 3600 s leases. Each measurement
 * starts the server afresh with an empty lease database. Gatehouse uses its production path
 * (raw socket bound to lan0) and logs at `warn` (Kea also logs at WARN; dnsmasq with --quiet-dhcp).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clientBytes } from '../../test/dhcp/helpers.js';
import { createLan, type LanTopology } from '../../test/helpers/netns.js';
import { arg } from '../cli-args.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');

const PERIOD = Number(arg('period', '5'));
const RATES = arg('rates', '3000').split(',').filter(Boolean).map(Number);
const MAX = Number(arg('max', '40000'));
const CLIENTS = Number(arg('clients', '60000'));
const ROUNDS = Number(arg('rounds', '1'));
const ONLY = arg('only', 'gatehouse,gatehouse-udp,kea,dnsmasq').split(',');
/** Extra Node.js flags for Gatehouse (profiling: `--node-args "--cpu-prof --cpu-prof-dir=/tmp/p"`). */
const NODE_ARGS = arg('node-args', '').split(' ').filter(Boolean);
/**
 * Seconds of unmeasured traffic (WARMUP_RATE/s, other MACs) before each measurement, for every
 * server alike: measures the steady state instead of Node.js's JIT warm-up (~15 % of a fresh
 * process's CPU in the first 5 s at 2000/s, measured with perf). 0 to measure from cold.
 */
const WARMUP = Number(arg('warmup', '2'));
const WARMUP_RATE = 2000;
/** Extra keys for Gatehouse's `dhcp:` section, e.g. `--dhcp-extra 'ackAfterCommit: false'`. */
const DHCP_EXTRA = arg('dhcp-extra', '');
/**
 * perfdhcp keeps receiving this long after its last request (`-W`): without it, the answers in
 * flight when the period ends count as drops (about rate × latency of them). perfdhcp then
 * divides by period + wait, so DORA/s here is its completed exchanges / period.
 */
const EXIT_WAIT_MS = Number(arg('exit-wait-ms', '250'));
/** `perf record -g` of the server during each measurement into `<prefix>-<server>-<round>-<target>.data`. */
const PERF = arg('perf', '');

/**
 * Servers run on CPU 0 and perfdhcp on CPU 1 (`--pin none` to let the scheduler choose): on a
 * shared 2-core box this keeps the load generator from stealing the server's core mid-run.
 */
const PIN = arg('pin', '0,1');
const [SERVER_CPU, CLIENT_CPU] = PIN === 'none' ? [undefined, undefined] : PIN.split(',');

function pin(cpu: string | undefined, cmd: string, args: string[]): [string, string[]] {
  return cpu === undefined ? [cmd, args] : ['taskset', ['-c', cpu, cmd, ...args]];
}

const SERVER_IP = '10.10.255.254';
const RELAY_IP = '10.10.255.1';
const POOL = ['10.10.0.1', '10.10.254.254'] as const;
const LEASE = 3600;

interface PerfResult {
  rate: number;
  sent: [number, number];
  received: [number, number];
  drops: [number, number];
  avgMs: [number, number];
  maxMs: [number, number];
}

interface Row {
  /** perfdhcp's CPU (user + system) over its run, % of one core. */
  clientCpuPct: number;
  /** The server's CPU over the same time, % of one core (near 100: saturated). */
  serverCpuPct: number;
  /** Datagrams the client's kernel dropped because perfdhcp's receive buffer was full. */
  clientRcvbufDrops: number;
  server: string;
  round: number;
  target: number | 'max';
  result: PerfResult;
  peakRssMb: number;
  /** Server CPU time (user + system) per completed exchange, microseconds. */
  cpuUsPerExchange: number;
}

function parsePerf(out: string): PerfResult {
  const rate = Number(/Rate: ([\d.]+)/.exec(out)?.[1] ?? 0);
  const nums = (re: RegExp): [number, number] => {
    const all = [...out.matchAll(re)].map((m) => Number(m[1]));
    return [all[0] ?? Number.NaN, all[1] ?? Number.NaN];
  };
  return {
    rate,
    sent: nums(/sent packets: (\d+)/g),
    received: nums(/received packets: (\d+)/g),
    drops: nums(/^drops: (\d+)/gm),
    avgMs: nums(/avg delay: ([\d.]+) ms/g),
    maxMs: nums(/max delay: ([\d.]+) ms/g),
  };
}

/** utime + stime of a process, in clock ticks (100 per second on Linux). */
function cpuTicks(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return Number.NaN;
  }
}

function peakRssMb(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN);
    return Math.round(kb / 1024);
  } catch {
    return Number.NaN;
  }
}

interface Server {
  name: string;
  start(dir: string): ChildProcess;
}

/** Gatehouse with every service but MDB and DHCP off, serving the bench pool; `socket` picks the transport. */
function gatehouseYaml(dir: string, socket: string): string {
  return [
    `dataDir: ${path.join(dir, 'data')}`,
    'demo: { seed: false }',
    'log: { level: warn }',
    "http: { listen: ['127.0.0.1:0'] }",
    'dns: { enabled: false }',
    'tftp: { enabled: false }',
    'netboot: { enabled: false }',
    'presence: { enabled: false }',
    'sso: { enabled: false }',
    `network: { alien: 10.10.0.0/16, alienGateway: ${SERVER_IP} }`,
    `dhcp: { ${socket},${DHCP_EXTRA ? ` ${DHCP_EXTRA},` : ''} alien: { rangeStart: ${POOL[0]}, rangeEnd: ${POOL[1]}, leaseTime: ${LEASE} } }`,
    '',
  ].join('\n');
}

function servers(lan: LanTopology): Server[] {
  /** `gatehouse serve` with the given socket config: raw per-interface or the relay-only UDP socket. */
  const gatehouseWith = (name: string, socket: string): Server => ({
    name,
    start(dir) {
      const config = path.join(dir, 'gatehouse.yml');
      fs.writeFileSync(config, gatehouseYaml(dir, socket));
      return lan.gw.spawn(
        ...pin(SERVER_CPU, process.execPath, [
          ...NODE_ARGS,
          '--import',
          'tsx',
          path.join(repo, 'src/cli/main.ts'),
          'serve',
          '--config',
          config,
        ]),
        { cwd: repo },
      );
    },
  });
  const gatehouse = gatehouseWith('gatehouse', 'interfaces: [lan0]');
  // perfdhcp is a relay, so the relay-only socket (dhcp.listen) serves it too.
  const gatehouseUdp = gatehouseWith('gatehouse-udp', `listen: '0.0.0.0:67'`);
  const kea: Server = {
    name: 'kea',
    start(dir) {
      const config = path.join(dir, 'kea.json');
      fs.writeFileSync(
        config,
        JSON.stringify({
          Dhcp4: {
            'interfaces-config': { interfaces: ['lan0'] },
            'lease-database': {
              type: 'memfile',
              persist: true,
              name: path.join(dir, 'kea-leases.csv'),
              'lfc-interval': 0,
            },
            'valid-lifetime': LEASE,
            authoritative: true,
            subnet4: [
              {
                id: 1,
                subnet: '10.10.0.0/16',
                pools: [{ pool: `${POOL[0]} - ${POOL[1]}` }],
                'next-server': SERVER_IP,
                'boot-file-name': 'prologin.kpxe',
                'option-data': [
                  { name: 'routers', data: SERVER_IP },
                  { name: 'domain-name-servers', data: SERVER_IP },
                  { name: 'domain-name', data: 'prolo' },
                ],
              },
            ],
            loggers: [{ name: 'kea-dhcp4', output_options: [{ output: 'stdout' }], severity: 'WARN' }],
          },
        }),
      );
      return lan.gw.spawn(...pin(SERVER_CPU, 'kea-dhcp4', ['-c', config]), {
        env: { ...process.env, KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir },
      });
    },
  };
  const dnsmasq: Server = {
    name: 'dnsmasq',
    start(dir) {
      return lan.gw.spawn(
        ...pin(SERVER_CPU, 'dnsmasq', [
          '--no-daemon',
          '--port=0',
          '--no-ping',
          '--quiet-dhcp',
          '--interface=lan0',
          '--bind-interfaces',
          `--dhcp-range=${POOL[0]},${POOL[1]},255.255.0.0,${LEASE}`,
          '--dhcp-lease-max=100000',
          '--dhcp-authoritative',
          `--dhcp-leasefile=${path.join(dir, 'dnsmasq.leases')}`,
          '--dhcp-boot=prologin.kpxe',
          `--dhcp-option=option:domain-name,prolo`,
          `--pid-file=${path.join(dir, 'dnsmasq.pid')}`,
        ]),
      );
    },
  };
  return [gatehouse, gatehouseUdp, kea, dnsmasq].filter((s) => ONLY.includes(s.name));
}

/** Waits until the server answers a relayed DISCOVER (the same probe for every server). */
async function waitReady(lan: LanTopology, proc: ChildProcess, name: string): Promise<void> {
  const probe = clientBytes({ type: 'DISCOVER', mac: '02:00:00:ff:ff:01', giaddr: RELAY_IP }).toString('hex');
  const deadline = Date.now() + 90_000;
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`${name} exited (${proc.exitCode}): ${stderr}`);
    const r = await lan.clients[0]!.exec(
      process.execPath,
      [path.join(repo, 'test/dhcp/fixtures/udp-exchange.mjs'), RELAY_IP, '67', SERVER_IP, '67', probe, '500'],
      { allowFail: true },
    );
    if (r.stdout.trim() !== 'timeout' && r.code === 0) return;
  }
  throw new Error(`${name} did not answer within 90 s: ${stderr}`);
}

function startPerf(pid: number | undefined, file: string): ChildProcess {
  return spawn('perf', ['record', '-q', '-e', 'cpu-clock', '-g', '-p', String(pid), '-o', file], {
    stdio: 'ignore',
  });
}

async function stopPerf(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    p.once('exit', () => resolve());
    p.kill('SIGINT');
  });
}

/** UDP datagrams dropped on a full receive buffer in the client namespace (perfdhcp's socket). */
async function udpRcvbufErrors(lan: LanTopology): Promise<number> {
  const r = await lan.clients[0]!.exec('nstat', ['-asz', 'UdpRcvbufErrors'], { allowFail: true });
  return Number(/UdpRcvbufErrors\s+(\d+)/.exec(r.stdout)?.[1] ?? Number.NaN);
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    proc.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    proc.kill('SIGTERM');
  });
}

async function measure(
  lan: LanTopology,
  server: Server,
  target: number | 'max',
  round: number,
): Promise<Row> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ghdhb-${server.name}-`));
  const proc = server.start(dir);
  try {
    await waitReady(lan, proc, server.name);
    if (WARMUP > 0) {
      // Its own MAC range, so that the measured clients are new to the server (no renewals).
      await lan.clients[0]!.exec(
        ...pin(CLIENT_CPU, 'perfdhcp', [
          '-4',
          '-r',
          String(WARMUP_RATE),
          '-p',
          String(WARMUP),
          '-R',
          String(WARMUP_RATE * WARMUP),
          '-b',
          'mac=02:99:00:00:00:00',
          '-l',
          RELAY_IP,
          SERVER_IP,
        ]),
        { allowFail: true, timeoutMs: (WARMUP + 30) * 1000 },
      );
    }
    const rate = target === 'max' ? MAX : target;
    const clientDropsBefore = await udpRcvbufErrors(lan);
    const recorder = PERF ? startPerf(proc.pid, `${PERF}-${server.name}-${round}-${target}.data`) : undefined;
    const before = cpuTicks(proc.pid);
    // /usr/bin/time reports perfdhcp's own CPU: near 100 % the load generator is the bottleneck.
    const { stdout, stderr } = await lan.clients[0]!.exec(
      ...pin(CLIENT_CPU, '/usr/bin/time', [
        '-f',
        'perfdhcp-cpu %U %S',
        'perfdhcp',
        '-4',
        '-r',
        String(rate),
        '-p',
        String(PERIOD),
        '-R',
        String(CLIENTS),
        '-W',
        String(EXIT_WAIT_MS * 1000),
        '-l',
        RELAY_IP,
        SERVER_IP,
      ]),
      { allowFail: true, timeoutMs: (PERIOD + 30) * 1000 },
    );
    const cpu = (cpuTicks(proc.pid) - before) * 10_000; // ticks -> microseconds
    if (recorder) await stopPerf(recorder);
    const result = parsePerf(stdout);
    result.rate = result.received[1] / PERIOD;
    const clientCpu = /perfdhcp-cpu ([\d.]+) ([\d.]+)/.exec(stderr);
    const clientCpuPct = clientCpu
      ? (100 * (Number(clientCpu[1]) + Number(clientCpu[2]))) / (PERIOD + EXIT_WAIT_MS / 1000)
      : Number.NaN;
    const exchanges = result.received[1];
    return {
      clientCpuPct,
      serverCpuPct: cpu / 10_000 / (PERIOD + EXIT_WAIT_MS / 1000),
      clientRcvbufDrops: (await udpRcvbufErrors(lan)) - clientDropsBefore,
      server: server.name,
      round,
      target,
      result,
      peakRssMb: peakRssMb(proc.pid),
      cpuUsPerExchange: exchanges > 0 ? cpu / exchanges : Number.NaN,
    };
  } finally {
    await stop(proc);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('bench/dhcp needs root (network namespaces, raw sockets)');
  const lan = await createLan({ prefix: 'ghdhb', clients: 1, gwLanAddresses: [`${SERVER_IP}/16`] });
  const rows: Row[] = [];
  try {
    await lan.clients[0]!.exec('ip', ['addr', 'add', `${RELAY_IP}/16`, 'dev', 'eth0']);
    for (let round = 1; round <= ROUNDS; round++) {
      for (const target of [...(MAX > 0 ? ['max' as const] : []), ...RATES]) {
        for (const s of servers(lan)) {
          const row = await measure(lan, s, target, round);
          rows.push(row);
          const r = row.result;
          console.log(
            `round ${round} ${s.name.padEnd(9)} target ${String(target).padStart(6)}/s: ${fmt(r.rate).padStart(6)} DORA/s, drops ${r.drops[0]}+${r.drops[1]} of ${r.sent[0]}+${r.sent[1]}, avg ${fmt(r.avgMs[0], 2)}/${fmt(r.avgMs[1], 2)} ms, max ${fmt(r.maxMs[0], 1)}/${fmt(r.maxMs[1], 1)} ms, CPU ${fmt(row.cpuUsPerExchange)} us/exchange, peak RSS ${row.peakRssMb} MB, client rcvbuf drops ${row.clientRcvbufDrops}, server CPU ${fmt(row.serverCpuPct)} %, perfdhcp CPU ${fmt(row.clientCpuPct)} %`,
          );
        }
      }
    }
  } finally {
    await lan.destroy();
  }
  console.log('\nsummary (exchanges/s = completed 4-way DORA per second as perfdhcp reports it)');
  console.log(
    'server     target   DORA/s  drops(D-O+R-A)  avg D-O/R-A ms  max D-O/R-A ms  CPU us/DORA  peak RSS MB  client rcvbuf drops  server CPU %  perfdhcp CPU %',
  );
  for (const row of rows) {
    const r = row.result;
    console.log(
      `${row.server.padEnd(10)} ${String(row.target).padStart(6)} ${fmt(r.rate).padStart(8)}  ${`${r.drops[0]}+${r.drops[1]}`.padStart(14)}  ${`${fmt(r.avgMs[0], 2)}/${fmt(r.avgMs[1], 2)}`.padStart(14)}  ${`${fmt(r.maxMs[0], 1)}/${fmt(r.maxMs[1], 1)}`.padStart(14)}  ${fmt(row.cpuUsPerExchange).padStart(11)}  ${String(row.peakRssMb).padStart(11)}  ${String(row.clientRcvbufDrops).padStart(19)}  ${fmt(row.serverCpuPct).padStart(12)}  ${fmt(row.clientCpuPct).padStart(14)}`,
    );
  }
  for (let round = 1; round <= ROUNDS; round++) {
    const g = rows.find((r) => r.server === 'gatehouse' && r.target === 'max' && r.round === round);
    const k = rows.find((r) => r.server === 'kea' && r.target === 'max' && r.round === round);
    if (g && k && k.result.rate > 0) {
      console.log(
        `round ${round}: Gatehouse / Kea saturated rate = ${(g.result.rate / k.result.rate).toFixed(2)}x; Kea / Gatehouse CPU per exchange = ${(k.cpuUsPerExchange / g.cpuUsPerExchange).toFixed(2)}x`,
      );
    }
    const u = rows.find((r) => r.server === 'gatehouse-udp' && r.target === 'max' && r.round === round);
    if (u && k && k.result.rate > 0) {
      console.log(
        `round ${round}: Gatehouse (relay-only UDP socket) / Kea saturated rate = ${(u.result.rate / k.result.rate).toFixed(2)}x`,
      );
    }
  }
}

await main();
