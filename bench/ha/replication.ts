/**
 * Replication lag at a fixed write rate, and what synchronous mode costs a writer. Two
 * `gatehouse serve` processes on loopback (roles forced: `ha.role`), writes through the admin
 * API (`POST /api/v1/settings`, one store transaction each) on the primary.
 *
 *   node --import tsx bench/ha/replication.ts [--rate 1000] [--seconds 10] [--latency-writes 500] [--concurrency 16]
 *
 * Lag = primary commit → standby commit of each transaction (gatehouse_ha_apply_lag_seconds,
 * both clocks are this machine's). Run under `flock /tmp/gatehouse-bench.lock`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { freePort } from '../../test/helpers/ports.js';
import { type SpawnedGatehouse, spawnGatehouse } from '../../test/helpers/spawn-gatehouse.js';
import { arg } from '../cli-args.js';

const RATE = Number(arg('rate', '1000'));
const SECONDS = Number(arg('seconds', '10'));
const LATENCY_WRITES = Number(arg('latency-writes', '500'));
const CONCURRENCY = Number(arg('concurrency', '16'));
const SECRET = 'bench-ha-secret';
const agent = new Agent({ connections: 64, pipelining: 1 });

interface Pair {
  a: SpawnedGatehouse;
  b: SpawnedGatehouse;
  aUrl: string;
  bUrl: string;
  stop(): Promise<void>;
}

async function startPair(mode: 'sync' | 'async'): Promise<Pair> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-ha-'));
  const [pa, pb] = [await freePort(), await freePort()];
  const yaml = (name: string, port: number, role: string, peer?: string) =>
    [
      `dataDir: ${root}/${name}`,
      'demo: { seed: false }',
      'log: { level: warn }',
      `http: { listen: ['127.0.0.1:${port}'] }`,
      'dns: { enabled: false }',
      'dhcp: { enabled: false }',
      'tftp: { enabled: false }',
      'presence: { enabled: false }',
      'sso: { enabled: false }',
      `secrets: { haReplication: ${SECRET} }`,
      `ha: { enabled: true, node: ${name}, role: ${role}, mode: ${mode}, syncTimeoutMs: 2000${peer ? `, peer: '${peer}'` : ''} }`,
      '',
    ].join('\n');
  const dir = (n: string) => {
    const d = path.join(root, `${n}-conf`);
    fs.mkdirSync(d, { recursive: true });
    return d;
  };
  const aUrl = `http://127.0.0.1:${pa}`;
  const bUrl = `http://127.0.0.1:${pb}`;
  const a = await spawnGatehouse({
    configYaml: yaml('a', pa, 'primary'),
    dir: dir('a'),
    startTimeoutMs: 60_000,
  });
  const b = await spawnGatehouse({
    configYaml: yaml('b', pb, 'standby', aUrl),
    dir: dir('b'),
    startTimeoutMs: 60_000,
  });
  const pair = {
    a,
    b,
    aUrl,
    bUrl,
    async stop() {
      await b.stop();
      await a.stop();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
  await until(
    async () => (await status(bUrl)).lagTransactions === 0 && (await status(aUrl)).standby?.connected === 1,
  );
  return pair;
}

async function status(
  url: string,
): Promise<{ appliedR: number; lagTransactions: number; standby?: { connected: number } }> {
  const r = await request(`${url}/ha/v1/status`, {
    headers: { authorization: `Bearer ${SECRET}` },
    dispatcher: agent,
  });
  return (await r.body.json()) as never;
}

async function until(fn: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('timed out');
}

let n = 0;
async function write(url: string): Promise<number> {
  const t0 = performance.now();
  const r = await request(`${url}/api/v1/settings`, {
    method: 'POST',
    dispatcher: agent,
    headers: { authorization: 'Bearer demo-admin-token', 'content-type': 'application/json' },
    body: JSON.stringify({ key: `bench_${++n}`, value_int: n }),
  });
  await r.body.dump();
  if (r.statusCode !== 201) throw new Error(`write answered ${r.statusCode}`);
  return performance.now() - t0;
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** p-th percentile upper bound from a Prometheus histogram's cumulative buckets. */
function histogramPct(metrics: string, name: string, p: number): string {
  const buckets = [...metrics.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\d+)`, 'gm'))].map(
    (m) => ({
      le: m[1]!,
      count: Number(m[2]),
    }),
  );
  const total = buckets[buckets.length - 1]?.count ?? 0;
  const want = (p / 100) * total;
  const hit = buckets.find((b) => b.count >= want);
  return hit ? `≤ ${hit.le === '+Inf' ? '∞' : `${Number(hit.le) * 1000} ms`}` : 'n/a';
}

async function lagAtRate(): Promise<void> {
  const pair = await startPair('async');
  try {
    const total = RATE * SECONDS;
    let maxLagTx = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        maxLagTx = Math.max(maxLagTx, (await status(pair.bUrl)).lagTransactions);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const t0 = performance.now();
    const failures: string[] = [];
    const pending: Promise<number>[] = [];
    for (let i = 0; i < total; i++) {
      const due = t0 + (i * 1000) / RATE;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      pending.push(
        write(pair.aUrl).catch((e: unknown) => {
          failures.push(String(e));
          return Number.NaN;
        }),
      );
    }
    const lat = (await Promise.all(pending)).filter((x) => !Number.isNaN(x)).sort((x, y) => x - y);
    if (failures.length > 0) {
      console.log(`${failures.length} writes failed, first: ${failures[0]}`);
      const tail = (g: SpawnedGatehouse) =>
        g.logs
          .slice(-5)
          .map((l) => JSON.stringify(l))
          .join('\n');
      console.log(
        `primary exit ${pair.a.proc.exitCode}, last logs:\n${tail(pair.a)}\nstandby last logs:\n${tail(pair.b)}`,
      );
    }
    const elapsed = (performance.now() - t0) / 1000;
    await until(async () => (await status(pair.bUrl)).lagTransactions === 0);
    sampling = false;
    await sampler;
    const metrics = await (await request(`${pair.bUrl}/metrics`, { dispatcher: agent })).body.text();
    const sum = Number(/^gatehouse_ha_apply_lag_seconds_sum (\S+)/m.exec(metrics)?.[1]);
    const count = Number(/^gatehouse_ha_apply_lag_seconds_count (\S+)/m.exec(metrics)?.[1]);
    console.log(`## Replication lag at ${RATE} writes/s (async mode, ${total} writes)`);
    console.log(
      `achieved rate: ${(total / elapsed).toFixed(0)} writes/s; write latency p50 ${pct(lat, 50).toFixed(2)} ms, p99 ${pct(lat, 99).toFixed(2)} ms`,
    );
    console.log(
      `apply lag (primary commit → standby commit): mean ${((sum / count) * 1000).toFixed(2)} ms over ${count} transactions; p50 ${histogramPct(metrics, 'gatehouse_ha_apply_lag_seconds', 50)}, p99 ${histogramPct(metrics, 'gatehouse_ha_apply_lag_seconds', 99)}; max backlog seen ${maxLagTx} transactions`,
    );
  } finally {
    await pair.stop();
  }
}

async function latencyCost(): Promise<void> {
  console.log(
    `## Write latency, async vs sync (${LATENCY_WRITES} sequential writes; then ${CONCURRENCY} concurrent writers)`,
  );
  for (const mode of ['async', 'sync'] as const) {
    const pair = await startPair(mode);
    try {
      for (let i = 0; i < 50; i++) await write(pair.aUrl); // warm-up
      const lat: number[] = [];
      for (let i = 0; i < LATENCY_WRITES; i++) lat.push(await write(pair.aUrl));
      lat.sort((x, y) => x - y);
      const t0 = performance.now();
      let done = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (done < LATENCY_WRITES * 2) {
            done++;
            await write(pair.aUrl);
          }
        }),
      );
      const rate = done / ((performance.now() - t0) / 1000);
      console.log(
        `${mode}: sequential p50 ${pct(lat, 50).toFixed(2)} ms, p90 ${pct(lat, 90).toFixed(2)} ms, p99 ${pct(lat, 99).toFixed(2)} ms; ${CONCURRENCY} writers: ${rate.toFixed(0)} writes/s`,
      );
    } finally {
      await pair.stop();
    }
  }
}

await lagAtRate();
await latencyCost();
await agent.close();
