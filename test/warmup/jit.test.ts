/**
 * Issue 13: a boot storm's DNS queries and TFTP read requests must meet code V8 has already
 * compiled. After start (and its warm-ups: `dns.warmupQueries`, `tftp.warmupRequests`) the DNS
 * answer path (answerFast) and the TFTP request path (TftpServer.handleRequest) are optimised
 * by TurboFan before any real query or request arrived; with both warm-ups at 0 they are not
 * (which shows what the check sees). Full GCs while idle throw part of that code away, and the
 * warm keeper (src/warm-keeper.ts) runs the warm-ups again once the appliance is idle. The status
 * comes from V8 itself (%GetOptimizationStatus, in a child started with --allow-natives-syntax:
 * fixtures/jit-probe.ts).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { SERVE_NODE_FLAGS } from '../../src/runtime-flags.js';

const execFileP = promisify(execFile);
const probe = fileURLToPath(new URL('./fixtures/jit-probe.ts', import.meta.url));
/** V8's OptimizationStatus bit "optimized" (src/runtime/runtime.h kOptimized). */
const OPTIMIZED = 1 << 4;

interface ProbeResult {
  status: Record<string, number>;
  warmed: Array<Record<string, unknown>>;
}

async function probeRun(overrides: object, nodeFlags: string[] = []): Promise<ProbeResult> {
  const { stdout } = await execFileP(
    process.execPath,
    [...nodeFlags, '--allow-natives-syntax', '--import', 'tsx', probe, JSON.stringify(overrides)],
    { timeout: 120_000, maxBuffer: 16 << 20 },
  );
  const line = stdout.trim().split('\n').pop()!;
  return JSON.parse(line) as ProbeResult;
}

const PATHS = ['answerFast', 'TftpServer.handleRequest'];

t.test(
  'after start with the defaults, the DNS answer path and the TFTP request path are compiled by TurboFan',
  async (t) => {
    // The defaults: both warm-ups on.
    const s = (await probeRun({})).status;
    for (const name of PATHS) t.ok(s[name]! & OPTIMIZED, `${name} optimised (status ${s[name]})`);
  },
);

t.test('with the warm-ups off, nothing has compiled them yet', async (t) => {
  const s = (await probeRun({ dns: { warmupQueries: 0 }, tftp: { warmupRequests: 0 } })).status;
  for (const name of PATHS) t.notOk(s[name]! & OPTIMIZED, `${name} not optimised (status ${s[name]})`);
});

// Full GCs (forced here: --expose-gc) stand for the one a night's trickle of traffic ends with.
const afterGcs = [...SERVE_NODE_FLAGS, '--expose-gc'];

t.test('a few full GCs after start throw part of that code away (why the warm keeper exists)', async (t) => {
  const { status } = await probeRun({ fullGcs: 8 }, afterGcs);
  t.ok(
    PATHS.some((name) => !(status[name]! & OPTIMIZED)),
    `at least one path lost its optimised code (${PATHS.map((n) => `${n} ${status[n]}`).join(', ')})`,
  );
});

t.test('once the appliance is idle after those GCs, the warm keeper compiles them again', async (t) => {
  const { status, warmed } = await probeRun({ fullGcs: 8, rewarmQuietMs: 2000 }, afterGcs);
  const rewarmed = warmed.find((l) => l.event === 'warmup.rewarmed');
  t.ok(rewarmed, 'one warmup.rewarmed line');
  t.ok(Number(rewarmed?.fullGcs) >= 1, `it counted the full GCs (${rewarmed?.fullGcs})`);
  for (const name of PATHS)
    t.ok(status[name]! & OPTIMIZED, `${name} optimised again (status ${status[name]})`);
});
