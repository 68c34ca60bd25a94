/**
 * Child process of warmup.test.ts (run with --allow-natives-syntax): starts an appliance with
 * the default `http.warmupExchanges`, waits for its `http.warmed_up` line (at most 30 s; an
 * appliance without a warm-up never writes it), and prints V8's optimisation status of
 * HttpServer.dispatch, before any real request, as one JSON line.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Gatehouse } from '../../src/app.js';
import { defaultConfig } from '../../src/config/index.js';
import { HttpServer } from '../../src/http/server.js';
import { createMemoryLogger } from '../../src/log.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ghhw-'));
const tftpRoot = path.join(dir, 'tftp');
fs.mkdirSync(tftpRoot);
const logger = createMemoryLogger('debug');
const app = await Gatehouse.start({
  logger,
  config: defaultConfig({
    demo: { seed: false },
    dataDir: path.join(dir, 'data'),
    http: { listen: ['127.0.0.1:0'] },
    dns: { listen: ['127.0.0.1:0'] },
    dhcp: { listen: '127.0.0.1:0' },
    tftp: { listen: ['127.0.0.1:0'], root: tftpRoot, warmWorkers: 0 },
  }),
});
try {
  const until = Date.now() + 30_000;
  const over = () =>
    logger.records.some((l) => l.event === 'http.warmed_up' || l.event === 'http.warmup_failed');
  while (!over() && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  // The compile job of a function marked at the warm-up's end finishes on a background thread.
  await new Promise((r) => setTimeout(r, 200));
  const status = new Function('f', 'return %GetOptimizationStatus(f)') as (f: unknown) => number;
  const dispatch = (HttpServer.prototype as unknown as { dispatch: unknown }).dispatch;
  const warmed = logger.records.find((l) => l.event === 'http.warmed_up' || l.event === 'http.warmup_failed');
  process.stdout.write(`${JSON.stringify({ warmed: warmed ?? null, dispatch: status(dispatch) })}\n`);
} finally {
  await app.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
