/**
 * `fetch-many.ts HOST PORT FILE COUNT SIZE OPTIONS_JSON`: COUNT concurrent downloads of FILE with
 * the TS client (src/tftp/client.ts) in this one process; checks every byte count, prints JSON
 * with the wall time and this process's CPU time. The first transfer keeps its bytes and reports
 * their SHA-256 so the runner can check content too.
 */
import crypto from 'node:crypto';
import { tftpGet } from '../../src/tftp/client.js';

const [host, port, file, count, size, options] = process.argv.slice(2);
const n = Number(count);
if (!host || !file || !(Number(port) > 0) || !(n >= 1 && n <= 10_000) || !(Number(size) >= 0)) {
  throw new Error('usage: fetch-many.ts HOST PORT FILE COUNT(1..10000) SIZE [OPTIONS_JSON]');
}
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let failures = 0;
let wrongSize = 0;
let sha256 = '';
let retransmissions = 0;
let granted: Record<string, string> | null = null;
await Promise.all(
  Array.from({ length: n }, async (_, i) => {
    try {
      const r = await tftpGet({
        host: host!,
        port: Number(port),
        file: file!,
        options: JSON.parse(options ?? '{}') as Record<string, number>,
        keepData: i === 0,
        timeoutMs: 2000,
        retries: 10,
      });
      if (r.bytes !== Number(size)) wrongSize++;
      retransmissions += r.retransmissions;
      if (i === 0) {
        sha256 = crypto.createHash('sha256').update(r.data).digest('hex');
        granted = r.oack;
      }
    } catch {
      failures++;
    }
  }),
);
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
process.stdout.write(
  `${JSON.stringify({ seconds, failures, wrongSize, sha256, retransmissions, oack: granted, clientCpuSeconds: (cpu.user + cpu.system) / 1e6 })}\n`,
);
