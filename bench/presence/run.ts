/**
 * Presence + SSO bench: N machines heart-beating (spec §9.4: every TIMEOUT/2 = 15 s) while
 * nginx-style SSO lookups arrive at a fixed rate, against a Gatehouse child process. Load is
 * open-loop (requests leave on schedule whatever the answers do) so slow answers show up as
 * latency instead of lowering the load.
 *
 * Time is compressed: phase "nominal" sends 1000 machines' heartbeats at their real aggregate
 * rate (1000 / 15 s = 66.7/s) for DURATION seconds, which is the same server load as a full
 * 15-s period repeated; phase "10x" sends them ten times as fast (as if every machine beat
 * every 1.5 s). Heartbeats open a new TCP connection each (the Python client did); SSO lookups
 * reuse keep-alive connections (nginx `keepalive` upstream). The same load is sent to a bare
 * Node.js HTTP server answering 204 in the same run, as the floor for the ratio.
 *
 *   node --import tsx bench/presence/run.ts [MACHINES=1000] [DURATION=10] [SSO_RATE=200] [ROUNDS=3]
 *   GHPS_PRESENCE_ONLY=1 …   (Gatehouse with only presence and SSO enabled)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { machinesTable } from '../../src/mdb/model.js';
import { allMigrations } from '../../src/migrations.js';
import { pyJsonDumps } from '../../src/rpc/pyjson.js';
import { Store } from '../../src/store/index.js';
import { generateToken } from '../../src/sync/timeauth.js';
import { usersTable } from '../../src/udb/model.js';
import { freePort } from '../../test/helpers/ports.js';

const MACHINES = Number(process.argv[2] ?? 1000);
const DURATION = Number(process.argv[3] ?? 10);
const SSO_RATE = Number(process.argv[4] ?? 200);
const ROUNDS = Number(process.argv[5] ?? 3);
const PUB = 'bench-pub';
const SUB = 'bench-sub';
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const ipOf = (i: number) => `10.1.${(i >> 8) & 255}.${i & 255}`;
const hostOf = (i: number) => `bench-m${i}`;
const loginOf = (i: number) => `bench_u${i}`;

async function seedStore(dir: string): Promise<void> {
  const store = await Store.open({ dir, migrations: allMigrations });
  const mt = machinesTable(store);
  const ut = usersTable(store);
  await store.write((tx) => {
    for (let i = 0; i < MACHINES; i++) {
      tx.put(mt, hostOf(i), {
        hostname: hostOf(i),
        aliases: '',
        ip: ipOf(i),
        mac: `02:00:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
        rfs: 0,
        hfs: 0,
        mtype: 'user',
        room: 'pasteur',
        is_faulty: false,
        is_faulty_details: '',
      });
      tx.put(ut, loginOf(i), {
        login: loginOf(i),
        firstname: 'B',
        lastname: 'Ench',
        uid: 10000 + i,
        group: 'user',
        password: 'x',
        shell: '/bin/bash',
        ssh_key: null,
        id: i + 1,
      });
    }
  });
  await store.close();
}

async function waitListening(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error('server exited early');
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('server did not listen');
}

function peakRssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

interface Sample {
  ms: number;
  ok: boolean;
}

function send(port: number, opts: http.RequestOptions, body?: string): Promise<Sample> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, ...opts }, (res) => {
      res.resume();
      res.on('end', () => resolve({ ms: performance.now() - t0, ok: (res.statusCode ?? 0) < 300 }));
    });
    req.on('error', () => resolve({ ms: performance.now() - t0, ok: false }));
    req.end(body);
  });
}

function heartbeat(port: number, i: number): Promise<Sample> {
  const data = pyJsonDumps({ login: loginOf(i), hostname: hostOf(i) });
  const body = new URLSearchParams({ data, hmac: generateToken(PUB, data) }).toString();
  return send(
    port,
    {
      method: 'POST',
      path: '/heartbeat',
      agent: false, // a new connection per heartbeat, like the Python client
      headers: {
        host: 'presencesync',
        'content-type': 'application/x-www-form-urlencoded',
        'content-length': Buffer.byteLength(body),
      },
    },
    body,
  );
}

function ssoLookup(port: number, agent: http.Agent, i: number): Promise<Sample> {
  return send(port, {
    method: 'GET',
    path: '/',
    agent,
    headers: { host: 'sso', 'x-real-ip': ipOf(i), 'x-real-uri': '/' },
  });
}

/** Fires `fn` `rate` times per second for `seconds`, on schedule; resolves with every sample. */
async function openLoop(
  rate: number,
  seconds: number,
  fn: (k: number) => Promise<Sample>,
): Promise<Sample[]> {
  const total = Math.round(rate * seconds);
  const pending: Array<Promise<Sample>> = [];
  const t0 = performance.now();
  let k = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
      while (k < due) pending.push(fn(k++));
      if (k >= total) resolve();
      else setTimeout(tick, 2);
    };
    tick();
  });
  return Promise.all(pending);
}

function summary(name: string, samples: Sample[]): { p50: number; p99: number; line: string } {
  const ms = samples.map((s) => s.ms).sort((a, b) => a - b);
  const q = (p: number) => ms[Math.min(ms.length - 1, Math.floor(p * ms.length))] ?? NaN;
  const errors = samples.filter((s) => !s.ok).length;
  return {
    p50: q(0.5),
    p99: q(0.99),
    line: `${name.padEnd(34)} n=${String(samples.length).padStart(6)}  p50=${q(0.5).toFixed(2).padStart(6)} ms  p99=${q(0.99).toFixed(2).padStart(6)} ms  max=${ms.at(-1)!.toFixed(2).padStart(7)} ms  errors=${errors}`,
  };
}

async function openPolls(port: number, n: number): Promise<Array<() => void>> {
  const q = new URLSearchParams({ data: '{}', hmac: generateToken(SUB, null) }).toString();
  const closers: Array<() => void> = [];
  for (let i = 0; i < n; i++) {
    await new Promise<void>((resolve) => {
      const req = http.get(
        { host: '127.0.0.1', port, path: `/poll?${q}`, headers: { host: 'presencesync' } },
        (res) => {
          res.resume();
          resolve();
        },
      );
      req.on('error', () => resolve());
      closers.push(() => req.destroy());
    });
  }
  return closers;
}

interface PhaseResult {
  hb: Sample[];
  sso: Sample[];
  /** CPU time the server process used during the phase, ms (utime + stime). */
  cpuMs: number;
  /** The server's own event-loop delay p99 during the phase (Gatehouse only), ms. */
  loopP99?: number;
}

async function eventLoopP99(port: number): Promise<number | undefined> {
  // prom-client resets its event-loop histogram at every scrape: each scrape covers one phase.
  const text = await new Promise<string>((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
        let b = '';
        res.on('data', (c: Buffer) => (b += c.toString()));
        res.on('end', () => resolve(b));
      })
      .on('error', () => resolve(''));
  });
  const m = /^gatehouse_nodejs_eventloop_lag_p99_seconds (\S+)$/m.exec(text);
  return m ? Number(m[1]) * 1000 : undefined;
}

/** utime + stime of a process, ms (/proc/PID/stat fields 14 and 15, in clock ticks of 10 ms). */
function cpuMsOf(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function phase(
  port: number,
  pid: number,
  factor: number,
  seconds: number,
  agent: http.Agent,
  scrape: boolean,
): Promise<PhaseResult> {
  if (scrape) await eventLoopP99(port);
  const cpu0 = cpuMsOf(pid);
  const hbRate = (MACHINES / 15) * factor;
  const [hb, sso] = await Promise.all([
    openLoop(hbRate, seconds, (k) => heartbeat(port, k % MACHINES)),
    openLoop(SSO_RATE, seconds, (k) => ssoLookup(port, agent, (k * 7919) % MACHINES)),
  ]);
  const cpuMs = cpuMsOf(pid) - cpu0;
  return { hb, sso, cpuMs, ...(scrape ? { loopP99: await eventLoopP99(port) } : {}) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Closed-loop capacity with wrk (keep-alive, 8 connections, one thread): the most SSO lookups
 * and heartbeats per second each server answers. Skipped when wrk is not installed.
 */
async function wrkCapacity(port: number, dir: string): Promise<{ sso: string; hb: string } | undefined> {
  const { execFile } = await import('node:child_process');
  const run = (args: string[]) =>
    new Promise<string>((resolve) => {
      execFile('wrk', args, { timeout: 60_000 }, (err, stdout) =>
        resolve(err ? `wrk failed: ${err.message}` : stdout),
      );
    });
  const rate = (out: string) => {
    const rps = /Requests\/sec:\s+(\S+)/.exec(out)?.[1];
    const lat = /Latency\s+(\S+)/.exec(out)?.[1];
    return rps
      ? `${Number(rps).toFixed(0)} req/s (mean latency ${lat})`
      : (out.trim().split('\n')[0] ?? 'no output');
  };
  const data = pyJsonDumps({ login: loginOf(1), hostname: hostOf(1) });
  const body = new URLSearchParams({ data, hmac: generateToken(PUB, data) }).toString();
  const lua = path.join(dir, 'heartbeat.lua');
  fs.writeFileSync(
    lua,
    `wrk.method = "POST"\nwrk.body = "${body}"\nwrk.headers["Host"] = "presencesync"\nwrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n`,
  );
  const url = `http://127.0.0.1:${port}/`;
  const sso = await run(['-t1', '-c8', '-d3s', '-H', 'Host: sso', '-H', `X-Real-IP: ${ipOf(1)}`, url]);
  if (sso.startsWith('wrk failed: spawn')) return undefined;
  const hb = await run(['-t1', '-c8', '-d3s', '-s', lua, `${url}heartbeat`]);
  return { sso: rate(sso), hb: rate(hb) };
}

async function main(): Promise<void> {
  console.log(
    `# load average at start: ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  console.log(
    `# presence bench: ${MACHINES} machines, heartbeat period 15 s compressed (see header), SSO ${SSO_RATE}/s, ${DURATION} s per phase; node ${process.version}, ${os.cpus().length} cpus${process.env.GHPS_PRESENCE_ONLY ? '; other services disabled' : '; full appliance'}`,
  );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ghps-bench-'));
  const children: ChildProcess[] = [];
  try {
    await seedStore(dir);
    const port = await freePort();
    fs.writeFileSync(
      path.join(dir, 'gatehouse.yml'),
      [
        `dataDir: ${dir}`,
        'log: { level: warn }',
        'demo: { seed: false }',
        `http: { listen: ['127.0.0.1:${port}'] }`,
        // GHPS_PRESENCE_ONLY=1: the other services off, to tell presence's cost from the appliance's.
        ...(process.env.GHPS_PRESENCE_ONLY
          ? [
              'dns: { enabled: false }',
              'dhcp: { enabled: false }',
              'tftp: { enabled: false }',
              'netboot: { enabled: false }',
              'udb: { enabled: false }',
            ]
          : [
              `dns: { listen: ['127.0.0.1:0'] }`,
              `dhcp: { listen: '127.0.0.1:0' }`,
              `tftp: { listen: ['127.0.0.1:0'] }`,
            ]),
        `secrets: { presencesyncPub: ${PUB}, presencesyncSub: ${SUB} }`,
        'presence: { timeout: 30 }',
      ].join('\n'),
    );
    // GHPS_CPU_PROF=DIR writes a V8 CPU profile of the Gatehouse process there (analysis aid).
    const prof = process.env.GHPS_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.GHPS_CPU_PROF] : [];
    // GHPS_NODE_FLAGS='--trace-gc …' passes V8 flags to the Gatehouse process (its stdout is shown then).
    prof.push(...(process.env.GHPS_NODE_FLAGS?.split(' ').filter(Boolean) ?? []));
    const gh = spawn(
      process.execPath,
      [
        ...prof,
        '--import',
        'tsx',
        path.join(repoRoot, 'src/cli/main.ts'),
        'serve',
        '--config',
        path.join(dir, 'gatehouse.yml'),
      ],
      {
        cwd: repoRoot,
        stdio: ['ignore', process.env.GHPS_NODE_FLAGS ? 'inherit' : 'ignore', 'inherit'],
      },
    );
    children.push(gh);
    await waitListening(port, gh);
    const closePolls = await openPolls(port, 3);
    const basePort = await freePort();
    const base = spawn(
      process.execPath,
      [
        '-e',
        `require('http').createServer((q,s)=>{q.resume();q.on('end',()=>{s.writeHead(204);s.end()})}).listen(${basePort},'127.0.0.1')`,
      ],
      { stdio: 'ignore' },
    );
    children.push(base);
    await waitListening(basePort, base);

    // warm-up: every machine's first heartbeat creates its session (one broadcast each)
    await openLoop(MACHINES / 2, 2, (k) => heartbeat(port, k % MACHINES));
    await openLoop(MACHINES / 2, 2, (k) => heartbeat(basePort, k % MACHINES));

    // Rounds interleave Gatehouse and the bare server phase by phase, so both see the same
    // background load on this shared machine; the median over rounds is reported.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const phases = [
      ['nominal', 1, DURATION],
      ['10x', 10, Math.max(2, DURATION / 2)],
    ] as const;
    const table: Record<string, { gh: PhaseResult[]; base: PhaseResult[] }> = {};
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, factor, seconds] of phases) {
        table[name] ??= { gh: [], base: [] };
        const entry = table[name];
        entry.gh.push(await phase(port, gh.pid!, factor, seconds, agent, true));
        entry.base.push(await phase(basePort, base.pid!, factor, seconds, agent, false));
      }
    }
    agent.destroy();
    const probe = await new Promise<string>((resolve) => {
      http.get(
        { host: '127.0.0.1', port, path: '/', headers: { host: 'sso', 'x-real-ip': ipOf(5) } },
        (res) => {
          res.resume();
          resolve(`${res.headers['x-sso-status']} ${res.headers['x-sso-user'] ?? ''}`);
        },
      );
    });
    console.log(`sso check for ${ipOf(5)}: ${probe}`);
    const ghRss = peakRssMiB(gh.pid!);
    const baseRss = peakRssMiB(base.pid!);
    for (const c of closePolls) c();

    let met = true;
    for (const [name, factor, seconds] of phases) {
      const entry = table[name]!;
      for (const kind of ['hb', 'sso'] as const) {
        const rate = kind === 'hb' ? ((MACHINES / 15) * factor).toFixed(1) : String(SSO_RATE);
        const label = `${name} ${kind === 'hb' ? 'heartbeat' : 'sso'} ${rate}/s`;
        for (const [i, r] of entry.gh.entries())
          console.log(`round ${i + 1} ${summary(`gatehouse ${label}`, r[kind]).line}`);
        for (const [i, r] of entry.base.entries())
          console.log(`round ${i + 1} ${summary(`bare-node-204 ${label}`, r[kind]).line}`);
        const ghP99 = median(entry.gh.map((r) => summary('', r[kind]).p99));
        const baseP99 = median(entry.base.map((r) => summary('', r[kind]).p99));
        const ghP50 = median(entry.gh.map((r) => summary('', r[kind]).p50));
        console.log(
          `=> ${label.padEnd(28)} median p50 ${ghP50.toFixed(2)} ms; median p99 gatehouse ${ghP99.toFixed(2)} ms, bare ${baseP99.toFixed(2)} ms, ratio ${(ghP99 / baseP99).toFixed(2)}`,
        );
        if (name === 'nominal' && ghP99 >= 10) met = false;
      }
      const perReq = (r: PhaseResult) => (r.cpuMs * 1000) / (r.hb.length + r.sso.length);
      console.log(
        `=> ${name} server CPU per request (median of rounds): gatehouse ${median(entry.gh.map(perReq)).toFixed(0)} µs, bare ${median(entry.base.map(perReq)).toFixed(0)} µs` +
          ` (gatehouse CPU ${median(entry.gh.map((r) => r.cpuMs / 10 / seconds)).toFixed(0)} % of a core)`,
      );
      const loops = entry.gh.map((r) => r.loopP99).filter((x): x is number => x !== undefined);
      if (loops.length)
        console.log(
          `=> ${name} gatehouse event-loop delay p99 per round: ${loops.map((x) => x.toFixed(1)).join(', ')} ms`,
        );
    }
    const capGh = await wrkCapacity(port, dir);
    const capBase = await wrkCapacity(basePort, dir);
    if (capGh && capBase) {
      console.log(`=> wrk capacity, SSO lookups:  gatehouse ${capGh.sso}; bare ${capBase.sso}`);
      console.log(`=> wrk capacity, heartbeats:   gatehouse ${capGh.hb}; bare ${capBase.hb}`);
    }
    console.log(`peak RSS: gatehouse ${ghRss.toFixed(0)} MiB, bare node ${baseRss.toFixed(0)} MiB`);
    console.log(
      `# load average at end: ${os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}`,
    );
    console.log(`target (median nominal p99 < 10 ms for heartbeats and SSO): ${met ? 'met' : 'NOT met'}`);
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
