/**
 * MDB bench: bulk import of N machines through the `mdb-import` operation (directly on the
 * store, then through a running server's ops API), and the mdbsync `/poll` snapshot of those N
 * machines to one and to many subscribers at once. The original server's per-subscriber cost
 * is Python's json.dumps of the backlog; it is measured in the same run for the ratio.
 *
 *   node --import tsx bench/mdb/run.ts [N=5000] [SUBSCRIBERS=200]
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';
import { Gatehouse } from '../../src/app.js';
import { runOperation } from '../../src/cli/run-operation.js';
import { writeServerLock, removeServerLock } from '../../src/cli/server-lock.js';
import { defaultConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/log.js';
import { generateToken } from '../../src/sync/timeauth.js';
import '../../src/mdb/operations.js';

const N = Number(process.argv[2] ?? 5000);
const SUBS = Number(process.argv[3] ?? 200);

/** Client mode: open `count` /poll streams at once, report when each got its first line. */
async function clients(base: string, count: number, secret: string): Promise<void> {
  const dispatcher = new Agent({ connections: count + 5, bodyTimeout: 0 });
  const t0 = performance.now();
  const one = async (): Promise<{ ms: number; bytes: number }> => {
    const q = `/poll?data=%7B%7D&hmac=${encodeURIComponent(generateToken(secret, null))}`;
    const res = await request(base + q, { headers: { host: 'mdbsync' }, dispatcher });
    let bytes = 0;
    for await (const chunk of res.body) {
      const b = chunk as Buffer;
      bytes += b.length;
      if (b.includes(10)) break;
    }
    res.body.destroy();
    return { ms: performance.now() - t0, bytes };
  };
  const all = await Promise.all(Array.from({ length: count }, one));
  const lat = all.map((r) => r.ms).sort((a, b) => a - b);
  const mb = all.reduce((s, r) => s + r.bytes, 0) / 1e6;
  console.log(
    `all served in ${lat[lat.length - 1]!.toFixed(0)} ms (p50 ${lat[Math.floor(count / 2)]!.toFixed(0)} ms, p99 ${lat[Math.floor(count * 0.99)]!.toFixed(0)} ms), ${mb.toFixed(0)} MB received`,
  );
  await dispatcher.close();
}

let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 20);

function machines(n: number, offset = 0) {
  return Array.from({ length: n }, (_, k) => {
    const i = k + offset;
    return {
      hostname: `node${i}`,
      aliases: i % 10 === 0 ? `alias${i},extra${i}` : '',
      mac: `02:${[(i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255, 0].map((x) => x.toString(16).padStart(2, '0')).join(':')}`,
      ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      rfs: i % 4,
      hfs: i % 4,
      mtype: 'cluster',
      room: 'cluster',
    };
  });
}

const quietIo = { out: () => {}, err: (l: string) => process.stderr.write(`  ${l}\n`) };

async function timed<R>(fn: () => Promise<R>): Promise<[R, number]> {
  const t0 = performance.now();
  const r = await fn();
  return [r, performance.now() - t0];
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-mdb-'));
  try {
    const config = defaultConfig({
      dataDir: dir,
      demo: { seed: false },
      http: { listen: ['127.0.0.1:0'], maxStreamsPerFeed: SUBS + 10, maxConnectionsPerClient: SUBS + 10 },
      dns: { listen: ['127.0.0.1:0'] },
      dhcp: { listen: '127.0.0.1:0' },
      tftp: { listen: ['127.0.0.1:0'] },
    });
    const text = JSON.stringify(machines(N));
    console.log(
      `# mdb bench: ${N} machines, ${SUBS} concurrent subscribers, node ${process.version}, ${os.cpus().length} cpus`,
    );

    const [code, importMs] = await timed(() =>
      runOperation('mdb-import', { positionals: [], flags: {}, files: { input: text } }, config, quietIo),
    );
    if (code !== 0) throw new Error('import failed');
    console.log(
      `import (direct on the store, batches of 500): ${N} machines in ${importMs.toFixed(0)} ms = ${((N / importMs) * 1000).toFixed(0)} machines/s`,
    );

    const app = await Gatehouse.start({ config, logger: silentLogger });
    try {
      const base = `http://127.0.0.1:${app.http.port}`;
      const query = () =>
        `/poll?data=%7B%7D&hmac=${encodeURIComponent(generateToken(config.secrets.mdbsyncSub, null))}`;
      const dispatcher = new Agent({ connections: SUBS + 5, bodyTimeout: 0, pipelining: 0 });
      const firstLine = async (): Promise<{ ms: number; bytes: number }> => {
        const t0 = performance.now();
        const res = await request(base + query(), { headers: { host: 'mdbsync' }, dispatcher });
        let bytes = 0;
        for await (const chunk of res.body) {
          const b = chunk as Buffer;
          bytes += b.length;
          if (b.includes(10)) break;
        }
        const ms = performance.now() - t0;
        res.body.destroy();
        return { ms, bytes };
      };
      const measureOne = async (label: string) => {
        const runs: number[] = [];
        let bytes = 0;
        for (let i = 0; i < 5; i++) {
          const r = await firstLine();
          runs.push(r.ms);
          bytes = r.bytes;
        }
        runs.sort((x, y) => x - y);
        console.log(
          `/poll snapshot, one subscriber, ${label}: ${(bytes / 1e6).toFixed(2)} MB first line, median ${runs[2]!.toFixed(1)} ms (min ${runs[0]!.toFixed(1)}, max ${runs[4]!.toFixed(1)}) over 5 runs`,
        );
      };
      await measureOne(`${N} machines`);
      writeServerLock(dir, { pid: process.pid, http: app.http.addresses()[0]! });
      const more = JSON.stringify(machines(N, N));
      const [code2, remoteMs] = await timed(() =>
        runOperation('mdb-import', { positionals: [], flags: {}, files: { input: more } }, config, quietIo),
      );
      if (code2 !== 0) throw new Error('remote import failed');
      console.log(
        `import (through the running server's ops API): ${N} machines in ${remoteMs.toFixed(0)} ms = ${((N / remoteMs) * 1000).toFixed(0)} machines/s`,
      );
      removeServerLock(dir, process.pid);
      const total = 2 * N;

      await measureOne(`${total} machines`);
      // Many subscribers at once, read by a separate process so the server has its own core.
      const child = (
        await promisify(execFile)(
          process.execPath,
          [
            '--import',
            'tsx',
            fileURLToPath(import.meta.url),
            '--clients',
            base,
            String(SUBS),
            config.secrets.mdbsyncSub,
          ],
          { encoding: 'utf8', timeout: 120_000 },
        )
      ).stdout.trim();
      console.log(`/poll snapshot, ${SUBS} subscribers at once (client process): ${child}`);
      await dispatcher.close();

      // The original server's per-subscriber work: json.dumps of the whole backlog message.
      const records = app
        .service<{ feed?: { snapshot(): unknown } } & import('../../src/service.js').Service>('mdb')
        ?.feed?.snapshot();
      const py = execFileSync(
        'python3',
        [
          '-c',
          'import json,sys,time\nm=json.load(sys.stdin)\nt=time.perf_counter()\nfor _ in range(5): s=json.dumps(m)\nprint((time.perf_counter()-t)/5*1000, len(s))',
        ],
        { input: JSON.stringify(records), encoding: 'utf8' },
      ).trim();
      const [pyMs] = py.split(' ').map(Number);
      const { pyJsonDumps } = await import('../../src/rpc/pyjson.js');
      const t0 = performance.now();
      for (let i = 0; i < 5; i++) pyJsonDumps(records);
      const tsMs = (performance.now() - t0) / 5;
      console.log(
        `snapshot serialisation of ${total} records: gatehouse pyJsonDumps ${tsMs.toFixed(1)} ms vs CPython json.dumps ${pyMs!.toFixed(1)} ms (ratio ${(pyMs! / tsMs).toFixed(2)}x; gatehouse caches it between changes)`,
      );
    } finally {
      await app.stop();
    }
    console.log(`peak RSS ${(peakRss / 1e6).toFixed(0)} MB`);
  } finally {
    clearInterval(sampler);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--clients') {
  clearInterval(sampler);
  await clients(process.argv[3]!, Number(process.argv[4]), process.argv[5]!);
} else {
  await main();
}
