/**
 * `gatehouse serve` must run with the Node flags of src/runtime-flags.ts (`--no-memory-reducer`:
 * without it V8's idle GCs throw away the start-up warm-ups' compiled code, and a boot storm
 * after an idle wait meets cold code; bench/bootstorm/RESULTS.md). The installed binary gets
 * them from its shebang; a Node started without them says so in one warning line.
 */
import fs from 'node:fs';
import t from 'tap';
import { SERVE_NODE_FLAGS } from '../../src/runtime-flags.js';
import { builtCli } from '../helpers/built-cli.js';
import { spawnLoopbackGatehouse } from '../helpers/loopback-gatehouse.js';
import { tempDir } from '../helpers/tmp.js';

// Only the warnings matter here: the warm-ups that can be turned off from these maps are.
const quiet = { http: 'warmupExchanges: 0', dns: 'warmupQueries: 0' };

t.test('the built CLI executed as the `gatehouse` binary runs serve with the flags', async (t) => {
  const cli = builtCli();
  const gh = await spawnLoopbackGatehouse(tempDir(t), { ...quiet, builtMain: cli, launch: 'shebang' });
  t.teardown(() => gh.stop('SIGKILL'));
  const cmdline = fs.readFileSync(`/proc/${gh.proc.pid}/cmdline`, 'utf8').split('\0');
  for (const flag of SERVE_NODE_FLAGS) t.ok(cmdline.includes(flag), `${flag} in ${cmdline.join(' ')}`);
  t.same(
    gh.logs.filter((l) => l.event === 'serve.node_flags_missing'),
    [],
    'no warning about missing flags',
  );
});

t.test('serve started by a bare `node` says which flags are missing and what to do', async (t) => {
  const cli = builtCli();
  const gh = await spawnLoopbackGatehouse(tempDir(t), { ...quiet, builtMain: cli, launch: 'bare' });
  t.teardown(() => gh.stop('SIGKILL'));
  const warning = await gh.waitForLog((l) => l.event === 'serve.node_flags_missing', 10_000);
  t.equal(warning.level, 'warn');
  t.same(warning.missing, [...SERVE_NODE_FLAGS]);
  t.match(String(warning.fix), /--no-memory-reducer .*docs\/operations\.md/);
});
