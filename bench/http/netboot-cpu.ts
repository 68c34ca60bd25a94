/**
 * Server CPU per booted machine for the netboot HTTP exchange of a boot storm, load-independent:
 *
 *   flock /tmp/gatehouse-bench.lock node --import tsx bench/http/netboot-cpu.ts \
 *     [--machines 1000] [--clients 2000] [--concurrency 64] [--runs 5] [--http '{"maxConnectionsPerClient":1024}']
 *     [--target http|bare-http|prototype|all] [--tsx] [--server-node-args '--cpu-prof --cpu-prof-dir=/tmp/prof']
 *
 * Starts Gatehouse in a child process (bench/http/netboot-server.ts: loopback, default log level,
 * MACHINES machines in MDB), then per run plays CLIENTS machines the way iPXE does: one TCP
 * connection, `GET /bootstrap` then `GET /boot/<mac>/` on it (keep-alive, `Host: netboot`,
 * iPXE's headers), close; CONCURRENCY machines at a time. The clients run in this process (raw
 * sockets, so their CPU stays out of the figure); the server's CPU (user+system, every thread)
 * is read before and after each run and divided by the machines that got both scripts. All
 * clients come from 127.0.0.1: keep CONCURRENCY well under `http.maxConnectionsPerClient` (256),
 * or raise it with `--http`, or refused connections show up as failures. A warm-up run (JIT) is not counted. `--target prototype`
 * plays the same clients against the bench-only fast-path prototype (fast-path-prototype.ts) in
 * the same server process instead of Gatehouse's node:http server; `--target both` alternates the
 * two run by run (same process, same box state: the comparison to trust on a busy box).
 */
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import readline from 'node:readline';
import { benchMac } from './machines.js';
import { arg } from '../cli-args.js';

const args = process.argv.slice(2);
const machines = Number(arg('--machines', '1000'));
const clients = Number(arg('--clients', '2000'));
const concurrency = Number(arg('--concurrency', '64'));
const runs = Number(arg('--runs', '5'));
const httpConfig = arg('--http', '{}');
const target = arg('--target', 'http');
const fromSource = args.includes('--tsx');
const serverNodeArgs = arg('--server-node-args', '').split(' ').filter(Boolean);

const request = (path: string) =>
  `GET ${path} HTTP/1.1\r\nConnection: keep-alive\r\nUser-Agent: iPXE/1.21.1+ (g1234)\r\nHost: netboot\r\n\r\n`;

interface Reply {
  status: number;
  body: string;
}

/** One machine: both GETs on one connection; rejects on anything but two complete replies. */
function bootOne(port: number, mac: string): Promise<[Reply, Reply]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const replies: Reply[] = [];
    let buf: Buffer = Buffer.alloc(0);
    socket.setNoDelay(true);
    socket.on('connect', () => socket.write(request('/bootstrap')));
    socket.on('data', (d: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? Number.NaN);
        if (!Number.isFinite(length)) {
          socket.destroy();
          reject(new Error(`reply without Content-Length: ${head}`));
          return;
        }
        if (buf.length < end + 4 + length) return;
        replies.push({
          status: Number(head.slice(9, 12)),
          body: buf.subarray(end + 4, end + 4 + length).toString('utf8'),
        });
        buf = buf.subarray(end + 4 + length);
        if (replies.length === 1) socket.write(request(`/boot/${mac.replaceAll(':', '%3A')}/`));
        else {
          socket.end();
          resolve([replies[0]!, replies[1]!]);
          return;
        }
      }
    });
    socket.on('error', reject);
    socket.on('close', () => {
      if (replies.length < 2) reject(new Error(`connection closed after ${replies.length} replies`));
    });
  });
}

async function storm(port: number, count: number): Promise<number> {
  let next = 0;
  let failures = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      try {
        const [bootstrap, boot] = await bootOne(port, benchMac(i % machines));
        if (bootstrap.status !== 200 || !bootstrap.body.startsWith('#!ipxe')) failures++;
        else if (boot.status !== 200 || !boot.body.includes('boot http://rfs0/')) failures++;
      } catch {
        failures++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return failures;
}

/**
 * The server compiled by tsc (bench/http/tsconfig.server.json → bench/out/http-cpu), as
 * production runs it: tsx's transform adds a `__name` call to every function expression,
 * which costs per request in closures built per request.
 */
function serverCommand(): string[] {
  const here = path.dirname(fileURLToPath(import.meta.url));
  if (fromSource) return [...process.execArgv, path.join(here, 'netboot-server.ts')];
  const repo = path.resolve(here, '../..');
  execFileSync(
    process.execPath,
    [path.join(repo, 'node_modules/typescript/bin/tsc'), '-p', path.join(here, 'tsconfig.server.json')],
    { cwd: repo, stdio: 'inherit' },
  );
  return [path.join(repo, 'bench/out/http-cpu/bench/http/netboot-server.js')];
}

async function main(): Promise<void> {
  const server = spawn(
    process.execPath,
    [...serverNodeArgs, ...serverCommand(), String(machines), httpConfig],
    {
      stdio: ['pipe', 'pipe', 'ignore'],
    },
  );
  const lines = readline.createInterface({ input: server.stdout! })[Symbol.asyncIterator]();
  const next = async () => JSON.parse((await lines.next()).value as string) as Record<string, number>;
  const ports = await next();
  const targets = target === 'all' ? ['http', 'bare-http', 'prototype'] : target.split(',');
  const portOf = (t: string) =>
    t === 'prototype' ? ports.prototypePort! : t === 'bare-http' ? ports.bareHttpPort! : ports.port!;
  const cpu = async () => {
    server.stdin!.write('cpu\n');
    return next();
  };
  try {
    console.log(
      `target: ${target}, http: ${httpConfig}, machines in MDB ${machines}, clients per run ${clients}, concurrency ${concurrency}`,
    );
    for (const t of targets) await storm(portOf(t), clients); // warm-up
    const perMachine = new Map<string, number[]>(targets.map((t) => [t, []]));
    for (let r = 1; r <= runs; r++) {
      for (const t of targets) {
        const before = await cpu();
        const t0 = performance.now();
        const failures = await storm(portOf(t), clients);
        const ms = performance.now() - t0;
        const after = await cpu();
        const user = (after.user! - before.user!) / 1000;
        const system = (after.system! - before.system!) / 1000;
        // Per booted machine (as the storm bench counts): a refused connection costs little.
        const per = (user + system) / Math.max(1, clients - failures);
        perMachine.get(t)!.push(per);
        console.log(
          `run ${r} ${t}: ${clients - failures}/${clients} ok, wall ${ms.toFixed(0)} ms, server CPU ${(user + system).toFixed(0)} ms ` +
            `(user ${user.toFixed(0)}, system ${system.toFixed(0)}), ${(per * 1000).toFixed(0)} µs per machine, rss ${(after.rss! / 2 ** 20).toFixed(0)} MB`,
        );
      }
    }
    for (const [t, values] of perMachine) {
      const sorted = [...values].sort((a, b) => a - b);
      console.log(
        `${t}: server CPU per machine median ${(sorted[Math.floor(sorted.length / 2)]! * 1000).toFixed(0)} µs, ` +
          `min ${(sorted[0]! * 1000).toFixed(0)} µs, max ${(sorted.at(-1)! * 1000).toFixed(0)} µs`,
      );
    }
  } finally {
    server.kill('SIGTERM');
  }
}

void main();
