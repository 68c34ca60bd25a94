/**
 * TFTP bench: Gatehouse against tftpd-hpa in the same run, same files, same clients.
 *
 *   node --import tsx bench/tftp/run.ts [--clients atftp,ts] [--repeat N] [--only 200:big.bin]
 *        [--gatehouse-config '{"workers":1}']
 *
 * Scenarios: 1 and 200 concurrent clients fetching a 100 KB boot image and a 10 MB file, asking
 * blksize 1468 (a full Ethernet frame), tsize and windowsize 16. tftpd-hpa does not implement
 * windowsize (RFC 7440) and answers lock-step; Gatehouse grants it. Two client kinds:
 *   ts    - one Node process running every download concurrently (src/tftp/client.ts);
 *   atftp - one atftp 0.8 process per download (a C client; it speaks windowsize too).
 * Each server first serves each file once, untimed (warm-up). Gatehouse runs the appliance's
 * TftpServer with its defaults (transfer worker threads, `tftp.workers: auto`).
 * With atftp clients, each repetition first measures the harness floor: 200 atftp processes that
 * each fetch a missing file (one RRQ, one ERROR); no server can finish 200 transfers faster.
 * Prints seconds and aggregate MB/s per server, the ratio (tftpd-hpa time / Gatehouse time),
 * server CPU seconds, and the peak memory of each server: Gatehouse's VmHWM (one process);
 * for tftpd-hpa, which forks one process per transfer, the peak of the summed PSS of the
 * listener and its children, sampled every 100 ms.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tftpGet } from '../../src/tftp/client.js';
import { freePort } from '../../test/helpers/ports.js';
import { hasCommand } from '../../test/helpers/tools.js';
import {
  atftpDownloads,
  CpuGroup,
  gatehouseCommand,
  kb,
  MemorySampler,
  OPTIONS,
  readProc,
  spawnClient,
} from './procs.js';
import { arg } from '../cli-args.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const clientKinds = arg('--clients', 'atftp').split(',') as Array<'ts' | 'atftp'>;
const repeat = Number(arg('--repeat', '1'));
/** Run one scenario only, e.g. `--only 200:big.bin`. */
const only = arg('--only', '');
/**
 * Overrides of Gatehouse's `tftp:` keys, e.g. `--gatehouse-config '{"workers":1}'`; by default
 * the bench server runs the appliance's defaults (`workers: auto`). For exploring only: recorded
 * runs use the defaults.
 */
const gatehouseConfig = arg('--gatehouse-config', '{}');
const FILES = { 'boot.img': 100 * 1024, 'big.bin': 10 * 1024 * 1024 };
const SCENARIOS: Array<{ clients: number; file: keyof typeof FILES }> = [
  { clients: 1, file: 'boot.img' },
  { clients: 1, file: 'big.bin' },
  { clients: 200, file: 'boot.img' },
  { clients: 200, file: 'big.bin' },
];

interface Server {
  name: string;
  port: number;
  proc: ChildProcess;
  sampler: MemorySampler;
  cpu: CpuGroup;
}

async function startGatehouse(root: string): Promise<Server> {
  const proc = spawn(process.execPath, [...gatehouseCommand(), root, gatehouseConfig], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    proc.stdout!.once('data', (d: Buffer) => resolve((JSON.parse(d.toString()) as { port: number }).port));
    proc.once('exit', (code) => reject(new Error(`gatehouse-server exited with ${code}`)));
  });
  return {
    name: 'gatehouse',
    port,
    proc,
    sampler: new MemorySampler(proc.pid!),
    cpu: new CpuGroup('gatehouse', proc.pid!),
  };
}

async function startTftpdHpa(root: string): Promise<Server> {
  const port = await freePort();
  const proc = spawn('in.tftpd', ['--foreground', '--address', `127.0.0.1:${port}`, '--secure', root], {
    stdio: 'ignore',
  });
  const cpu = new CpuGroup('tftpd-hpa', proc.pid!);
  // Ready when it answers.
  for (let i = 0; ; i++) {
    try {
      await tftpGet({ host: '127.0.0.1', port, file: 'boot.img', timeoutMs: 200, retries: 0 });
      break;
    } catch (e) {
      if (i > 25) throw new Error(`tftpd-hpa did not answer: ${(e as Error).message}`);
    }
  }
  return { name: 'tftpd-hpa', port, proc, sampler: new MemorySampler(proc.pid!), cpu };
}

interface RunResult {
  seconds: number;
  failures: number;
  serverCpu: number;
  /** Kernel-mode part of serverCpu (cgroup v2 only). */
  serverSys: number;
  clientCpu?: number;
}

async function runTs(
  server: Server,
  file: keyof typeof FILES,
  clients: number,
  sha: string,
  clientCpu: CpuGroup,
): Promise<RunResult> {
  const cpu0 = server.cpu.seconds();
  const sys0 = server.cpu.systemSeconds();
  const ccpu0 = clientCpu.seconds();
  const child = spawnClient(
    clientCpu,
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(here, 'fetch-many.ts'),
      '127.0.0.1',
      String(server.port),
      file,
      String(clients),
      String(FILES[file]),
      JSON.stringify(OPTIONS),
    ],
    'pipe',
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  await new Promise((r) => child.on('exit', r));
  const r = JSON.parse(out) as {
    seconds: number;
    failures: number;
    wrongSize: number;
    sha256: string;
    oack: Record<string, string> | null;
  };
  const bad = r.failures + r.wrongSize + (r.sha256 === sha ? 0 : 1);
  return {
    seconds: r.seconds,
    failures: bad,
    serverCpu: server.cpu.seconds() - cpu0,
    serverSys: server.cpu.systemSeconds() - sys0,
    clientCpu: clientCpu.seconds() - ccpu0,
  };
}

async function runAtftp(
  server: Server,
  file: string,
  clients: number,
  clientCpu: CpuGroup,
): Promise<RunResult> {
  const cpu0 = server.cpu.seconds();
  const sys0 = server.cpu.systemSeconds();
  const ccpu0 = clientCpu.seconds();
  const t0 = performance.now();
  const exits = await atftpDownloads(clientCpu, clients, file, server.port);
  const seconds = (performance.now() - t0) / 1000;
  return {
    seconds,
    failures: exits.filter((c) => c !== 0).length,
    serverCpu: server.cpu.seconds() - cpu0,
    serverSys: server.cpu.systemSeconds() - sys0,
    clientCpu: clientCpu.seconds() - ccpu0,
  };
}

async function main(): Promise<void> {
  for (const cmd of ['in.tftpd', ...(clientKinds.includes('atftp') ? ['atftp'] : [])]) {
    if (!hasCommand(cmd)) throw new Error(`${cmd} not found (apt-get install tftpd-hpa atftp)`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ghtftp-bench-'));
  fs.chmodSync(dir, 0o755); // tftpd-hpa drops to user nobody
  const sha: Record<string, string> = {};
  for (const [name, size] of Object.entries(FILES)) {
    const data = crypto.randomBytes(size);
    fs.writeFileSync(path.join(dir, name), data, { mode: 0o644 });
    sha[name] = crypto.createHash('sha256').update(data).digest('hex');
  }
  const servers = [await startGatehouse(dir), await startTftpdHpa(dir)];
  const clientCpu = new CpuGroup('clients');
  // Untimed warm-up: each server serves each file once (Gatehouse: JIT and file cache;
  // tftpd-hpa: page cache), so the first timed row does not measure start-up.
  for (const server of servers) {
    for (const file of Object.keys(FILES))
      await tftpGet({ host: '127.0.0.1', port: server.port, file, options: OPTIONS, keepData: false });
  }
  const started = performance.now();
  let failures = 0;
  try {
    const load = os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ');
    console.log(
      `# TFTP bench: ${os.cpus().length} CPUs, load average ${load}; client options ${JSON.stringify(OPTIONS)}; Gatehouse tftp config overrides ${gatehouseConfig}`,
    );
    console.log(
      `# CPU seconds from ${servers[0]!.cpu.exact ? 'cgroup v2 cpu.stat (children included)' : '/proc/PID/stat (tftpd-hpa children NOT included)'}`,
    );
    console.log(
      '| clients | file | client | Gatehouse s | MB/s | srv CPU s (kernel) | cli CPU s | tftpd-hpa s | MB/s | srv CPU s (kernel) | cli CPU s | ratio |',
    );
    console.log('|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    const floors: string[] = [];
    for (let rep = 0; rep < repeat; rep++) {
      if (clientKinds.includes('atftp')) {
        // What no server can beat with this harness: starting, running and reaping 200 atftp
        // processes that each make one exchange (an RRQ answered by error 1 from the listener).
        const f = await runAtftp(servers[0]!, 'no-such-file', 200, clientCpu);
        floors.push(
          `${f.seconds.toFixed(3)} s (client CPU ${(f.clientCpu ?? 0).toFixed(2)} s, ${200 - f.failures} unexpected successes)`,
        );
      }
      for (const sc of SCENARIOS.filter((x) => !only || only === `${x.clients}:${x.file}`)) {
        for (const kind of clientKinds) {
          const res: RunResult[] = [];
          for (const server of servers) {
            const r =
              kind === 'ts'
                ? await runTs(server, sc.file, sc.clients, sha[sc.file]!, clientCpu)
                : await runAtftp(server, sc.file, sc.clients, clientCpu);
            failures += r.failures;
            res.push(r);
          }
          const [g, h] = res as [RunResult, RunResult];
          const mb = (sc.clients * FILES[sc.file]) / 1e6;
          const fail = (r: RunResult) => (r.failures ? ` (${r.failures} FAILED)` : '');
          const cols = (r: RunResult) =>
            `${r.seconds.toFixed(3)}${fail(r)} | ${(mb / r.seconds).toFixed(1)} | ${r.serverCpu.toFixed(2)} (${r.serverSys.toFixed(2)}) | ${(r.clientCpu ?? 0).toFixed(2)}`;
          console.log(
            `| ${sc.clients} | ${sc.file} | ${kind} | ${cols(g)} | ${cols(h)} | ${(h.seconds / g.seconds).toFixed(2)}x |`,
          );
        }
      }
    }
    if (floors.length > 0) {
      console.log('');
      console.log(
        `Client floor, 200 atftp processes each fetching a missing file from Gatehouse: ${floors.join('; ')}.`,
      );
    }
  } finally {
    for (const s of servers) s.sampler.sample();
    const gh = servers[0]!;
    const hpa = servers[1]!;
    const hwm = kb(readProc(gh.proc.pid!, 'status'), 'VmHWM');
    console.log('');
    console.log(
      `Peak memory: Gatehouse VmHWM ${(hwm / 1024).toFixed(1)} MiB (1 Node.js process running bundled JS; the file cache holds both files);`,
    );
    console.log(
      `tftpd-hpa summed PSS ${(hpa.sampler.peakPssKb / 1024).toFixed(1)} MiB at peak, up to ${hpa.sampler.peakProcesses} processes ` +
        `(listener VmHWM ${(kb(readProc(hpa.proc.pid!, 'status'), 'VmHWM') / 1024).toFixed(1)} MiB).`,
    );
    console.log(
      `Bench wall time ${((performance.now() - started) / 1000).toFixed(1)} s; transfer failures: ${failures}.`,
    );
    for (const s of servers) {
      s.sampler.stop();
      s.proc.kill('SIGTERM');
    }
    await Promise.all([...servers.map((s) => s.cpu.remove()), clientCpu.remove()]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (failures > 0) process.exitCode = 1;
}

await main();
