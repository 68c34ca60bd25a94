/**
 * UDB bench: `gatehouse udb batchimport` of N generated contestants (default 10 000), run
 * (1) straight on a stopped data directory and (2) through a running `gatehouse serve` with a
 * udbsync subscriber connected; plus query_private, the /poll snapshot and pwdsheetdata over
 * those N users. The original (Django + PostgreSQL + pwgen per user) is not installed here, so
 * the reference is the floor of the same store: N plain user records put in the same batches
 * without validation, password generation or login derivation.
 *
 *   node --import tsx bench/udb/run.ts [N] [--built]
 *
 * `--built` first compiles the project into bench/out/dist and runs the server and the CLI
 * from there (`node dist/cli/main.js`, as installed), so start-up is not tsx compiling every
 * module on the fly.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { allMigrations } from '../../src/migrations.js';
import { Store } from '../../src/store/index.js';
import { generateToken } from '../../src/sync/timeauth.js';
import type { User } from '../../src/udb/model.js';
import { udbTables } from '../../src/udb/users.js';

const argv = process.argv.slice(2);
const built = argv.includes('--built');
const N = Number(argv.find((a) => /^\d+$/.test(a)) ?? 10_000);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-udb-bench-'));
const distDir = path.join(root, 'bench/out/dist');
if (built) {
  execFileSync(
    process.execPath,
    [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', distDir],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
}
/** How to start `gatehouse`: compiled JavaScript with --built, else the sources through tsx. */
const gatehouse = built
  ? [path.join(distDir, 'cli/main.js')]
  : ['--import', 'tsx', path.join(root, 'src/cli/main.ts')];

const FIRST = [
  'Alain',
  'Élodie',
  'Jean-Pierre',
  'Marie Claire',
  'Joseph',
  'Zoé',
  'Ibrahim',
  'Chloé',
  'Léa',
  'Hugo',
  'Inès',
  'Noah',
];
const LAST = [
  'Proviste',
  'Çaglar-Dupont',
  'De La Fontaine',
  "O'Neil",
  'Marchand',
  'Nguyen',
  'Durand',
  'Lefèvre',
  'Moreau',
  'Girard',
];

function namesFile(): string {
  const lines: string[] = [];
  for (let i = 0; i < N; i++) {
    // Many collisions on purpose: de-duplication (`<login>N`) is part of the work measured.
    lines.push(
      `${FIRST[i % FIRST.length]}\t${LAST[Math.floor(i / FIRST.length) % LAST.length]}${i % 7 === 0 ? '' : ` ${i}`}`,
    );
  }
  const p = path.join(work, 'finalistes.txt');
  fs.writeFileSync(p, lines.join('\n') + '\n');
  return p;
}

interface Run {
  wallMs: number;
  importMs: number;
  maxRssKb: number;
  outLines: number;
  lastProgress: string;
}

/** Runs the CLI under /usr/bin/time; stderr progress lines are timestamped as they arrive. */
function runCli(args: string[], echo: boolean): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn('/usr/bin/time', ['-f', 'RSSKB=%M', process.execPath, ...gatehouse, ...args], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let outLines = 0;
    let firstProgress = 0;
    let lastProgressAt = 0;
    let lastProgress = '';
    let rss = 0;
    let errBuf = '';
    child.stdout.on('data', (d: Buffer) => {
      outLines += d.toString().split('\n').length - 1;
    });
    child.stderr.on('data', (d: Buffer) => {
      errBuf += d.toString();
      for (let i = errBuf.indexOf('\n'); i >= 0; i = errBuf.indexOf('\n')) {
        const line = errBuf.slice(0, i);
        errBuf = errBuf.slice(i + 1);
        const m = /^RSSKB=(\d+)/.exec(line);
        if (m) rss = Number(m[1]);
        else if (/: \d+\/\d+ \(\d+%\)$/.test(line)) {
          if (!firstProgress) firstProgress = Date.now();
          lastProgressAt = Date.now();
          lastProgress = line;
          if (echo && /\((0|100|\d*[05]0)%\)$/.test(line)) process.stdout.write(`    ${line}\n`);
        } else if (line.trim()) process.stdout.write(`    stderr: ${line}\n`);
      }
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`gatehouse ${args.join(' ')} exited ${code}`));
      else
        resolve({
          wallMs: Date.now() - started,
          importMs: lastProgressAt - firstProgress,
          maxRssKb: rss,
          outLines,
          lastProgress,
        });
    });
  });
}

async function storeFloor(): Promise<number> {
  const store = await Store.open({ dir: path.join(work, 'floor'), migrations: allMigrations });
  const t = udbTables(store);
  const started = performance.now();
  for (let start = 0; start < N; start += 500) {
    await store.write((tx) => {
      for (let i = start; i < Math.min(N, start + 500); i++) {
        const u: User = {
          login: `u${i}`,
          firstname: 'F',
          lastname: 'L',
          uid: 10001 + i,
          group: 'user',
          password: 'Abc3defg',
          shell: '/bin/bash',
          ssh_key: null,
          id: i + 1,
        };
        tx.put(t.users, u.login, u);
      }
    });
  }
  const ms = performance.now() - started;
  await store.close();
  return ms;
}

function startServer(dataDir: string): Promise<{ proc: ChildProcess; http: string }> {
  const cfg = path.join(work, 'gatehouse.yml');
  fs.writeFileSync(
    cfg,
    [
      `dataDir: ${dataDir}`,
      'log: { level: warn }',
      'demo: { seed: false }',
      'http: { listen: ["127.0.0.1:0"] }',
      'dns: { listen: ["127.0.0.1:0"] }',
      'tftp: { listen: ["127.0.0.1:0"] }',
      'dhcp: { listen: "127.0.0.1:0" }',
      'secrets: { udbClientAuth: BENCHAUTH, udbsyncSub: BENCHSUB }',
      '',
    ].join('\n'),
  );
  const proc = spawn(process.execPath, [...gatehouse, 'serve', '--config', cfg], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    proc.stdout!.on('data', (d: Buffer) => {
      const m = /listening: http (\S+?),? /.exec(d.toString());
      if (m) resolve({ proc, http: m[1]! });
    });
    proc.on('exit', (c) => reject(new Error(`serve exited ${c}`)));
  });
}

function peakRssKb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** Opens udbsync /poll; resolves `done` once `want` users have arrived after the snapshot. */
async function subscribe(http: string, want: number) {
  const dispatcher = new Agent({ bodyTimeout: 0 });
  const hmac = generateToken('BENCHSUB', null);
  const res = await request(`http://${http}/poll?data=%7B%7D&hmac=${encodeURIComponent(hmac)}`, {
    headers: { host: 'udbsync' },
    dispatcher,
  });
  let buf = '';
  let lines = 0;
  let users = 0;
  let resolveDone!: (at: number) => void;
  const done = new Promise<number>((r) => {
    resolveDone = r;
  });
  res.body.on('data', (c: Buffer) => {
    buf += c.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (lines++ > 0) users += (JSON.parse(line) as unknown[]).length;
      if (users >= want) resolveDone(Date.now());
    }
  });
  return { done, close: () => dispatcher.destroy() };
}

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const s = performance.now();
  const v = await fn();
  return [performance.now() - s, v];
}

async function main(): Promise<void> {
  const file = namesFile();
  console.log(
    `UDB bench: ${N} users, ${os.cpus().length} CPU(s), node ${process.version}, gatehouse from ${built ? 'bench/out/dist (compiled)' : 'sources via tsx'}`,
  );

  console.log('\n1. store floor: plain puts of the same records, 500 per transaction');
  const floor = await storeFloor();
  console.log(`    ${floor.toFixed(0)} ms (${Math.round((N / floor) * 1000)} users/s)`);

  console.log('\n2. gatehouse udb batchimport on a stopped data directory');
  const direct = await runCli(
    ['udb', 'batchimport', '--data', path.join(work, 'direct'), '--file', file],
    true,
  );
  console.log(
    `    import ${direct.importMs} ms (${Math.round((N / direct.importMs) * 1000)} users/s), wall ${direct.wallMs} ms incl. process start, CLI peak RSS ${(direct.maxRssKb / 1024).toFixed(0)} MiB, ${direct.outLines} "Added user" lines`,
  );

  console.log('\n3. the same import through a running gatehouse serve, one udbsync subscriber connected');
  const dataDir = path.join(work, 'served');
  const server = await startServer(dataDir);
  try {
    const sub = await subscribe(server.http, N);
    const started = Date.now();
    const served = await runCli(['udb', 'batchimport', '--data', dataDir, '--file', file], true);
    const allStreamed = await sub.done;
    console.log(
      `    import ${served.importMs} ms (${Math.round((N / served.importMs) * 1000)} users/s), wall ${served.wallMs} ms; subscriber had all ${N} users ${allStreamed - started} ms after the CLI started; CLI peak RSS ${(served.maxRssKb / 1024).toFixed(0)} MiB`,
    );
    await sub.close();

    console.log(`\n4. reads over ${N} users (through the server)`);
    const body = () =>
      JSON.stringify({ args: [], kwargs: {}, hmac: generateToken('BENCHAUTH', 'query_private') });
    const rpcTimes: number[] = [];
    let size = 0;
    for (let i = 0; i < 5; i++) {
      const [ms, text] = await timed(async () => {
        const r = await request(`http://${server.http}/call/query_private`, {
          method: 'POST',
          headers: { host: 'udb' },
          body: body(),
        });
        return r.body.text();
      });
      rpcTimes.push(ms);
      size = text.length;
    }
    rpcTimes.sort((a, b) => a - b);
    console.log(
      `    query_private: median ${rpcTimes[2]!.toFixed(0)} ms for ${(size / 1e6).toFixed(1)} MB of JSON`,
    );
    const snapStart = performance.now();
    const snap = await request(
      `http://${server.http}/poll?data=%7B%7D&hmac=${encodeURIComponent(generateToken('BENCHSUB', null))}`,
      {
        headers: { host: 'udbsync' },
      },
    );
    let first = '';
    for await (const c of snap.body) {
      first += c.toString();
      if (first.includes('\n')) break;
    }
    const firstLineMs = performance.now() - snapStart;
    snap.body.destroy();
    console.log(
      `    /poll snapshot: first line (${N} users, ${(first.length / 1e6).toFixed(1)} MB) in ${firstLineMs.toFixed(0)} ms`,
    );
    const sheet = await runCli(['udb', 'pwdsheetdata', '--data', dataDir], false);
    console.log(`    pwdsheetdata: ${sheet.outLines} lines, wall ${sheet.wallMs} ms incl. process start`);
    console.log(`    server peak RSS ${(peakRssKb(server.proc.pid!) / 1024).toFixed(0)} MiB`);
  } finally {
    server.proc.kill('SIGTERM');
    await new Promise((r) => server.proc.once('exit', r));
  }

  console.log('\nsummary');
  console.log(`    direct import / store floor = ${(direct.importMs / floor).toFixed(1)}x`);
  fs.rmSync(work, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  console.error(e);
  fs.rmSync(work, { recursive: true, force: true });
  process.exit(1);
});
