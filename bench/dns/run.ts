/**
 * DNS bench: dnsperf against Gatehouse, NSD, Knot and BIND serving the same 1000-host `prolo`
 * zone, plus a bare Node.js UDP echo responder (the runtime's ceiling, one process and one
 * worker per core), all started in the same run on loopback and measured in interleaved rounds.
 * Prints qps, loss, latency and peak RSS for each, and Gatehouse's ratios.
 *
 *   node --import tsx bench/dns/run.ts            # DURATION=5 ROUNDS=3 WORKERS=<cores> CLIENTS=8
 *
 * The box is shared and noisy: compare figures of the same round, look at the ratios.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { defaultConfig } from '../../src/config/index.js';
import { renderMasterFile } from '../../src/dns/master-file.js';
import { buildZones } from '../../src/dns/zone-builder.js';
import type { Machine } from '../../src/mdb/model.js';

const execFileP = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const DURATION = Number(process.env.DURATION ?? 5);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const CLIENTS = Number(process.env.CLIENTS ?? 8);
const OUTSTANDING = Number(process.env.OUTSTANDING ?? 400);
const CORES = os.availableParallelism();
// One UDP worker per core, as the other servers run (the appliance's `auto` leaves one core free).
const WORKERS = process.env.WORKERS ?? String(CORES);
const ONLY = process.env.ONLY?.split(',');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ghdns-bench-'));
const repo = path.resolve(here, '../..');

/**
 * The Node processes run plain JavaScript: src/ and this folder are transpiled (no bundling,
 * same files) into bench/out/dns-js, so neither throughput nor RSS includes the tsx loader.
 * esbuild comes with tsx; without it the bench falls back to tsx.
 */
async function compile(): Promise<{ node: string[]; ext: string; base: string }> {
  try {
    const { build } = await import('esbuild');
    const out = path.join(repo, 'bench', 'out', 'dns-js');
    const entries: string[] = [];
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true })) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) entries.push(p);
      }
    };
    walk(path.join(repo, 'src'));
    walk(here);
    fs.rmSync(out, { recursive: true, force: true });
    await build({
      entryPoints: entries,
      outdir: out,
      outbase: repo,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      logLevel: 'error',
    });
    return { node: [], ext: '.js', base: out };
  } catch (e) {
    console.error(`esbuild unavailable (${(e as Error).message}); running through tsx`);
    return { node: ['--import', 'tsx'], ext: '.ts', base: repo };
  }
}
const js = await compile();
const script = (name: string) => [...js.node, path.join(js.base, 'bench', 'dns', name + js.ext)];

// The same 1000 machines (every tenth with an alias) for everyone.
const machines: Machine[] = Array.from({ length: 1000 }, (_, i) => ({
  hostname: `pas-r${String(Math.floor(i / 40)).padStart(2, '0')}p${String(i % 40).padStart(2, '0')}`,
  aliases: i % 10 === 0 ? `alias${i}` : '',
  ip: `192.168.${Math.floor(i / 250)}.${(i % 250) + 1}`,
  mac: `02:00:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
  rfs: 0,
  hfs: 0,
  mtype: 'user',
  room: 'pasteur',
  is_faulty: false,
  is_faulty_details: '',
}));
const config = defaultConfig({ network: { lan: '192.168.0.0/22' } });
const prolo = buildZones({ machines, network: config.network, dns: config.dns }).zones.find(
  (z) => z.id === 'normal/prolo',
)!;
fs.writeFileSync(path.join(dir, 'prolo.zone'), renderMasterFile({ ...prolo, serial: 1 }));
fs.writeFileSync(path.join(dir, 'machines.json'), JSON.stringify(machines));
const queries = [
  ...machines.map((m) => `${m.hostname}.prolo A`),
  ...machines.filter((m) => m.aliases).map((m) => `${m.aliases}.prolo A`),
];
fs.writeFileSync(path.join(dir, 'queries.txt'), queries.join('\n') + '\n');

interface Running {
  name: string;
  port: number;
  proc: ChildProcess;
  note: string;
}

let nextPort = 25353 + Math.floor(Math.random() * 2000);

function launch(cmd: string, args: string[], opts: { cwd?: string } = {}): ChildProcess {
  const p = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  p.stderr!.on('data', (d: Buffer) => {
    if (process.env.VERBOSE) process.stderr.write(`[${cmd}] ${d}`);
  });
  return p;
}

async function waitAnswer(port: number, name: string, expect: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      const { stdout } = await execFileP('dig', [
        '@127.0.0.1',
        '-p',
        String(port),
        '+short',
        '+tries=1',
        '+time=1',
        name,
      ]);
      if (stdout.trim() === expect) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing answers ${name} on port ${port}`);
}

const probe = { name: `${machines[123]!.hostname}.prolo`, ip: machines[123]!.ip };

async function startGatehouse(): Promise<Running> {
  const port = nextPort++;
  const proc = launch(process.execPath, [
    ...script('gatehouse-server'),
    String(port),
    WORKERS,
    path.join(dir, 'machines.json'),
    path.join(dir, 'gh-data'),
  ]);
  await new Promise<void>((resolve, reject) => {
    proc.stdout!.once('data', () => resolve());
    proc.once('exit', (c) => reject(new Error(`gatehouse exited ${c}`)));
  });
  return { name: 'Gatehouse', port, proc, note: `workers=${WORKERS === 'auto' ? CORES : WORKERS}` };
}

async function startEcho(workers: number, fast = false): Promise<Running> {
  const port = nextPort++;
  const args = [String(port), String(workers), ...(fast ? ['fast'] : [])];
  const proc = launch(process.execPath, [...script('echo-responder'), ...args]);
  await new Promise<void>((resolve) => proc.stdout!.once('data', () => resolve()));
  return {
    name: `bare Node echo${workers > 1 ? ` x${workers}` : ''}${fast ? ' fast path' : ''}`,
    port,
    proc,
    note: `${workers} process${workers > 1 ? 'es' : ''}${fast ? ', handle-level send/receive' : ', node:dgram'}`,
  };
}

async function startNsd(): Promise<Running> {
  const port = nextPort++;
  const d = path.join(dir, 'nsd');
  fs.mkdirSync(d, { recursive: true });
  fs.copyFileSync(path.join(dir, 'prolo.zone'), path.join(d, 'prolo.zone'));
  fs.writeFileSync(
    path.join(d, 'nsd.conf'),
    `server:
    ip-address: 127.0.0.1@${port}
    zonesdir: "${d}"
    database: ""
    pidfile: "${d}/nsd.pid"
    xfrdfile: "${d}/xfrd.state"
    zonelistfile: "${d}/zone.list"
    username: ""
    chroot: ""
    server-count: ${CORES}
    rrl-ratelimit: 0
    minimal-responses: yes
    verbosity: 0
remote-control:
    control-enable: no
zone:
    name: prolo
    zonefile: prolo.zone
`,
  );
  const proc = launch('nsd', ['-d', '-c', path.join(d, 'nsd.conf')]);
  await waitAnswer(port, probe.name, probe.ip);
  return { name: 'NSD', port, proc, note: `server-count ${CORES}, rrl-ratelimit 0` };
}

async function startKnot(): Promise<Running> {
  const port = nextPort++;
  const d = path.join(dir, 'knot');
  fs.mkdirSync(d, { recursive: true });
  fs.copyFileSync(path.join(dir, 'prolo.zone'), path.join(d, 'prolo.zone'));
  fs.writeFileSync(
    path.join(d, 'knot.conf'),
    `server:
    rundir: "${d}"
    listen: 127.0.0.1@${port}
database:
    storage: "${d}"
template:
  - id: default
    storage: "${d}"
    zonefile-sync: -1
    journal-content: none
zone:
  - domain: prolo
    file: prolo.zone
log:
  - target: stderr
    any: warning
`,
  );
  const proc = launch('knotd', ['-c', path.join(d, 'knot.conf')]);
  await waitAnswer(port, probe.name, probe.ip);
  return { name: 'Knot', port, proc, note: 'default workers' };
}

async function startBind(): Promise<Running> {
  const port = nextPort++;
  const d = path.join(dir, 'bind');
  fs.mkdirSync(d, { recursive: true });
  fs.copyFileSync(path.join(dir, 'prolo.zone'), path.join(d, 'prolo.zone'));
  fs.writeFileSync(
    path.join(d, 'named.conf'),
    `options {
  directory "${d}";
  pid-file "${d}/named.pid";
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  minimal-responses yes;
  querylog no;
};
controls { };
zone "prolo" { type primary; file "${d}/prolo.zone"; };
`,
  );
  const proc = launch('named', ['-g', '-c', path.join(d, 'named.conf')]);
  await waitAnswer(port, probe.name, probe.ip);
  return { name: 'BIND', port, proc, note: 'default threads' };
}

interface Result {
  qps: number;
  /** Server CPU (user + system, whole process tree) per answered query, in µs. */
  cpuUs: number;
  lostPct: number;
  latencyMs: number;
  sent: number;
}

async function dnsperf(port: number, pid: number): Promise<Result> {
  const cpuBefore = cpuSeconds(pid);
  const { stdout } = await execFileP(
    'dnsperf',
    [
      '-s',
      '127.0.0.1',
      '-p',
      String(port),
      '-d',
      path.join(dir, 'queries.txt'),
      '-l',
      String(DURATION),
      '-c',
      String(CLIENTS),
      '-q',
      String(OUTSTANDING),
      '-t',
      '2',
    ],
    { maxBuffer: 16 << 20, timeout: (DURATION + 30) * 1000 },
  );
  const cpu = cpuSeconds(pid) - cpuBefore;
  const num = (re: RegExp) => Number(re.exec(stdout)?.[1] ?? Number.NaN);
  return {
    cpuUs: (cpu * 1e6) / num(/Queries completed:\s+(\d+)/),
    sent: num(/Queries sent:\s+(\d+)/),
    qps: num(/Queries per second:\s+([\d.]+)/),
    lostPct: num(/Queries lost:\s+\d+ \(([\d.]+)%\)/),
    latencyMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
  };
}

/** A process and all its descendants. */
function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(e)]);
    } catch {
      /* gone */
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

/** Peak RSS of a process and all its descendants (sum of each one's VmHWM), in MiB. */
function peakRssMiB(pid: number): number {
  let kb = 0;
  for (const p of processTree(pid)) {
    try {
      kb += Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      /* gone */
    }
  }
  return kb / 1024;
}

const TICKS_PER_SECOND = 100;

/**
 * User + system CPU seconds used so far by a process tree (all threads). CPU per answer does not
 * depend on how busy the shared box is, unlike qps: it is the load-independent comparison.
 */
function cpuSeconds(pid: number): number {
  let ticks = 0;
  for (const p of processTree(pid)) {
    try {
      const stat = fs.readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      /* gone */
    }
  }
  return ticks / TICKS_PER_SECOND;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const starters: Array<[string, () => Promise<Running>]> = [
    ['Gatehouse', startGatehouse],
    ['NSD', startNsd],
    ['Knot', startKnot],
    ['BIND', startBind],
    ['echo1', () => startEcho(1)],
    ['echoN', () => startEcho(CORES)],
    ['echoFast', () => startEcho(CORES, true)],
  ];
  const servers: Running[] = [];
  try {
    for (const [key, start] of starters) if (!ONLY || ONLY.includes(key)) servers.push(await start());
    // Same answer from everyone before measuring.
    for (const s of servers.filter((x) => !x.name.startsWith('bare')))
      await waitAnswer(s.port, probe.name, probe.ip);
    const results = new Map<string, Result[]>(servers.map((s) => [s.name, []]));
    console.log(
      `# dnsperf -l ${DURATION} -c ${CLIENTS} -q ${OUTSTANDING}, ${queries.length} distinct A queries over a 1000-host zone, ${CORES} cores, ${ROUNDS} rounds`,
    );
    for (let r = 0; r < ROUNDS; r++) {
      // Rotate the order each round so no server always runs first (or last) on a noisy box.
      const order = servers.map((_, i) => servers[(i + r) % servers.length]!);
      for (const s of order) {
        const res = await dnsperf(s.port, s.proc.pid!);
        results.get(s.name)!.push(res);
        console.log(
          `round ${r + 1} ${s.name.padEnd(20)} ${res.qps.toFixed(0).padStart(8)} qps  lost ${res.lostPct.toFixed(2)}%  avg ${res.latencyMs.toFixed(3)} ms  cpu ${res.cpuUs.toFixed(1)} us/q`,
        );
      }
    }
    const rows = servers.map((s) => {
      const rs = results.get(s.name)!;
      return {
        name: s.name,
        note: s.note,
        qps: median(rs.map((x) => x.qps)),
        lost: Math.max(...rs.map((x) => x.lostPct)),
        lat: median(rs.map((x) => x.latencyMs)),
        cpuUs: median(rs.map((x) => x.cpuUs)),
        rss: peakRssMiB(s.proc.pid!),
        all: rs.map((x) => Math.round(x.qps)),
      };
    });
    console.log(
      '\n| server | config | qps (median) | qps per round | max loss | avg latency | server CPU µs/query (median) | peak RSS |',
    );
    console.log('|---|---|---:|---|---:|---:|---:|---:|');
    for (const r of rows) {
      console.log(
        `| ${r.name} | ${r.note} | ${r.qps.toFixed(0)} | ${r.all.join(' / ')} | ${r.lost.toFixed(2)} % | ${r.lat.toFixed(3)} ms | ${r.cpuUs.toFixed(1)} | ${r.rss.toFixed(0)} MiB |`,
      );
    }
    const gh = rows.find((r) => r.name === 'Gatehouse');
    if (gh) {
      console.log('');
      for (const other of rows.filter((r) => r !== gh)) {
        // Per-round ratios too: rounds are where the box's noise is most alike.
        const perRound = results.get('Gatehouse')!.map((g, i) => g.qps / results.get(other.name)![i]!.qps);
        console.log(
          `Gatehouse / ${other.name}: ${(gh.qps / other.qps).toFixed(2)} (median of medians); per round ${perRound.map((x) => x.toFixed(2)).join(', ')}; CPU per query ${(gh.cpuUs / other.cpuUs).toFixed(2)}x theirs`,
        );
      }
    }
    fs.mkdirSync(path.join(here, '..', 'out'), { recursive: true });
    fs.writeFileSync(
      path.join(here, '..', 'out', 'dns.json'),
      JSON.stringify(
        { at: new Date().toISOString(), DURATION, ROUNDS, CLIENTS, OUTSTANDING, CORES, rows },
        null,
        2,
      ),
    );
  } finally {
    for (const s of servers) s.proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    for (const s of servers) if (s.proc.exitCode === null) s.proc.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
