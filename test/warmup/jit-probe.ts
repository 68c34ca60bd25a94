/**
 * Child of jit.test.ts, run with `node --allow-natives-syntax`: starts an appliance with its
 * start-up warm-ups, waits for them (and for V8's concurrent compiles), and prints, as one JSON
 * line, V8's optimisation status of the DNS answer path's and the TFTP request path's functions.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Gatehouse } from '../../src/app.js';
import { defaultConfig } from '../../src/config/index.js';
import { answerFast } from '../../src/dns/answer.js';
import { DnsEngine } from '../../src/dns/engine.js';
import type { DnsService } from '../../src/dns/service.js';
import { createMemoryLogger } from '../../src/log.js';
import type { TftpService } from '../../src/tftp/service.js';
import { TftpServer } from '../../src/tftp/server.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gh-jit-probe-'));
const root = path.join(dir, 'tftp');
fs.mkdirSync(root);
const overrides = JSON.parse(process.argv[2] ?? '{}') as { dns?: object; tftp?: object };
const config = defaultConfig({
  demo: { seed: false },
  dataDir: path.join(dir, 'data'),
  http: { listen: ['127.0.0.1:0'] },
  dns: { listen: ['127.0.0.1:0'], ...overrides.dns },
  dhcp: { listen: '127.0.0.1:0' },
  tftp: { listen: ['127.0.0.1:0'], root, warmWorkers: 0, ...overrides.tftp },
});
const logger = createMemoryLogger('info');
const app = await Gatehouse.start({ config, logger });
try {
  // Optional calls: the probe also runs against code from before the warm-ups (jit.test.ts).
  const dns = app.service<DnsService>('dns') as Partial<DnsService> | undefined;
  await dns?.warmedUp?.();
  await app.service<TftpService>('tftp')!.server.warmedUp();
  // TurboFan compiles on a background thread: give the last jobs time to be installed.
  await new Promise((r) => setTimeout(r, 1000));
  const status = new Function('f', 'return %GetOptimizationStatus(f)') as (f: unknown) => number;
  const fns: Record<string, unknown> = {
    answerFast,
    'DnsEngine.handle': DnsEngine.prototype.handle,
    'TftpServer.handleRequest': (TftpServer.prototype as unknown as Record<string, unknown>).handleRequest,
  };
  const out: Record<string, number> = {};
  for (const [name, f] of Object.entries(fns)) out[name] = status(f);
  process.stdout.write(
    `${JSON.stringify({ status: out, warmed: logger.records.filter((l) => String(l.event).endsWith('warmed_up')) })}\n`,
  );
} finally {
  await app.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
