/**
 * Issue 13: a boot storm's DNS queries and TFTP read requests must meet code V8 has already
 * compiled. After start (and its warm-ups: `dns.warmupQueries`, `tftp.warmupRequests`) the DNS
 * answer path (answerFast) and the TFTP request path (TftpServer.handleRequest) are optimised
 * by TurboFan before any real query or request arrived; with both warm-ups at 0 they are not
 * (which shows what the check sees). The status comes from V8 itself (%GetOptimizationStatus, in
 * a child started with --allow-natives-syntax: fixtures/jit-probe.ts).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';

const execFileP = promisify(execFile);
const probe = fileURLToPath(new URL('./fixtures/jit-probe.ts', import.meta.url));
/** V8's OptimizationStatus bit "optimized" (src/runtime/runtime.h kOptimized). */
const OPTIMIZED = 1 << 4;

async function statuses(overrides: object): Promise<Record<string, number>> {
  const { stdout } = await execFileP(
    process.execPath,
    ['--allow-natives-syntax', '--import', 'tsx', probe, JSON.stringify(overrides)],
    { timeout: 120_000, maxBuffer: 16 << 20 },
  );
  const line = stdout.trim().split('\n').pop()!;
  return (JSON.parse(line) as { status: Record<string, number> }).status;
}

const PATHS = ['answerFast', 'TftpServer.handleRequest'];

t.test(
  'after start with the defaults, the DNS answer path and the TFTP request path are compiled by TurboFan',
  async (t) => {
    // The defaults: both warm-ups on.
    const s = await statuses({});
    for (const name of PATHS) t.ok(s[name]! & OPTIMIZED, `${name} optimised (status ${s[name]})`);
  },
);

t.test('with the warm-ups off, nothing has compiled them yet', async (t) => {
  const s = await statuses({ dns: { warmupQueries: 0 }, tftp: { warmupRequests: 0 } });
  for (const name of PATHS) t.notOk(s[name]! & OPTIMIZED, `${name} not optimised (status ${s[name]})`);
});
