/**
 * Server CPU per DATA block: the load-independent measure used while optimising the send path.
 *
 *   node --import tsx bench/tftp/cpu-per-block.ts [--clients 20] [--mb 10] [--repeat 3]
 *        [--config '{"workers":1}'] [--dgram-only]
 *
 * Starts the bundled Gatehouse server alone (bench/tftp/gatehouse-server.ts, `--config` overrides
 * `tftp:` keys; `--dgram-only` sets GATEHOUSE_DGRAM_ONLY=1 so the UDP fast path is not used),
 * runs CLIENTS atftp processes at once fetching an MB-megabyte file with the bench's options
 * (blksize 1468, windowsize 16, tsize), and prints per run the wall time, the server's CPU
 * seconds (cgroup v2 cpu.stat, every thread) and CPU µs per DATA block sent (blocks counted by
 * the server: payload bytes / 1468 rounded up per transfer, retransmissions included).
 */

import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { tftpGet } from '../../src/tftp/client.js';
import { atftpDownloads, CpuGroup, gatehouseCommand, OPTIONS } from './procs.js';
import { arg } from '../cli-args.js';

const args = process.argv.slice(2);
const clients = Number(arg('--clients', '20'));
const size = Math.round(Number(arg('--mb', '10')) * 1024 * 1024);
const repeat = Number(arg('--repeat', '3'));
const config = arg('--config', '{}');
const dgramOnly = args.includes('--dgram-only');

interface Counters {
  sentBytes: number;
  retransmittedBlocks: number;
  transfers: number;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ghtftp-cpb-'));
  fs.chmodSync(dir, 0o755);
  fs.writeFileSync(path.join(dir, 'big.bin'), crypto.randomBytes(size), { mode: 0o644 });
  const proc = spawn(process.execPath, [...gatehouseCommand(), dir, config], {
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { ...process.env, ...(dgramOnly ? { GATEHOUSE_DGRAM_ONLY: '1' } : {}) },
  });
  const lines = readline.createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  const next = async () => JSON.parse((await lines.next()).value as string) as Record<string, number>;
  const { port } = (await next()) as { port: number };
  const counters = async (): Promise<Counters> => {
    proc.kill('SIGUSR2');
    return (await next()) as unknown as Counters;
  };
  const cpu = new CpuGroup('gatehouse-cpb', proc.pid!);
  const clientCpu = new CpuGroup('clients-cpb');
  try {
    // Warm-up (JIT, file cache, workers): a few transfers, untimed.
    await Promise.all(
      Array.from({ length: 4 }, () =>
        tftpGet({ host: '127.0.0.1', port, file: 'big.bin', options: OPTIONS, keepData: false }),
      ),
    );
    console.log(
      `# ${os.cpus().length} CPUs, load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(
          ' ',
        )}; ${clients} atftp clients x ${(size / 1e6).toFixed(1)} MB; config ${config}${dgramOnly ? '; GATEHOUSE_DGRAM_ONLY=1' : ''}`,
    );
    console.log(
      '| run | wall s | srv CPU s | (kernel) | cli CPU s | blocks | retransmitted | srv µs/block |',
    );
    console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
    const perBlock: number[] = [];
    for (let rep = 1; rep <= repeat; rep++) {
      const c0 = await counters();
      const cpu0 = cpu.seconds();
      const sys0 = cpu.systemSeconds();
      const ccpu0 = clientCpu.seconds();
      const t0 = performance.now();
      const exits = await atftpDownloads(clientCpu, clients, 'big.bin', port);
      const wall = (performance.now() - t0) / 1000;
      const srv = cpu.seconds() - cpu0;
      const sys = cpu.systemSeconds() - sys0;
      const cli = clientCpu.seconds() - ccpu0;
      const c1 = await counters();
      const failed = exits.filter((e) => e !== 0).length;
      // Blocks sent: each transfer's payload is split in 1468-byte blocks plus the final short
      // (possibly empty) one; retransmissions are counted by the server.
      const perTransfer = Math.floor(size / OPTIONS.blksize) + 1;
      const transfers = c1.transfers - c0.transfers;
      const retrans = c1.retransmittedBlocks - c0.retransmittedBlocks;
      const blocks = transfers * perTransfer + retrans;
      const us = (srv / blocks) * 1e6;
      perBlock.push(us);
      console.log(
        `| ${rep}${failed ? ` (${failed} FAILED)` : ''} | ${wall.toFixed(2)} | ${srv.toFixed(2)} | ${sys.toFixed(2)} | ${cli.toFixed(2)} | ${blocks} | ${retrans} | ${us.toFixed(2)} |`,
      );
    }
    const sorted = [...perBlock].sort((a, b) => a - b);
    console.log(`median server CPU per block: ${sorted[Math.floor(sorted.length / 2)]!.toFixed(2)} µs`);
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
    await Promise.all([cpu.remove(), clientCpu.remove()]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
