import fs from 'node:fs';
import net from 'node:net';
import t from 'tap';
import { spawnLoopbackGatehouse } from '../helpers/loopback-gatehouse.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Issue 15 item 6: `error` is for what an operator must act on. A client that hangs up in the
 * middle of an RPC body and a normal stop by SIGTERM sent to the whole process group (systemd's
 * default KillMode=control-group, Ctrl-C in a terminal), DNS workers included, are routine.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
    const list = fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8');
    out.push(...list.split(/\s+/).filter(Boolean).map(Number));
  }
  return out;
}

t.test('client aborts and a SIGTERM to the process group log nothing at error level', async (t) => {
  const gh = await spawnLoopbackGatehouse(tempDir(t), { dns: 'workers: 2' });
  t.teardown(() => gh.stop('SIGKILL'));
  const port = gh.httpPort;

  // A client that sends half an RPC body and goes away.
  const s = net.connect({ host: '127.0.0.1', port }, () =>
    s.write('POST /call/query HTTP/1.1\r\nHost: mdb\r\nContent-Length: 200\r\n\r\n{"args": ['),
  );
  s.on('error', () => {});
  await sleep(200);
  s.destroy();
  const aborted = await gh.waitForLog((r) => r.event === 'rpc.client_aborted');
  t.equal(aborted.level, 'info', 'a client abort is info');

  const pid = gh.proc.pid!;
  const group = [pid, ...childrenOf(pid)];
  t.ok(group.length >= 3, `the main process and its DNS workers: ${group.join(' ')}`);
  const exited = new Promise<number | null>((resolve) => gh.proc.once('exit', (code) => resolve(code)));
  // systemd signals every process of the unit's cgroup at once, and Ctrl-C the whole foreground
  // group; which one acts first is up to the scheduler. A busy main process handles its signal
  // after idle workers have exited: that order, made certain here, is the one that logged
  // `dns.worker_died` (and forked a replacement in the middle of a stop).
  for (const p of group.slice(1)) process.kill(p, 'SIGTERM');
  await sleep(300);
  process.kill(pid, 'SIGTERM');
  t.equal(await exited, 0, 'exit status 0');
  t.ok(
    gh.logs.some((r) => r.event === 'gatehouse.stopped'),
    'stopped in order',
  );
  const errors = gh.logs.filter((r) => r.level === 'error');
  t.same(errors, [], 'no error-level line');
});
