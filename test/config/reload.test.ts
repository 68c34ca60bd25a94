import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { spawnLoopbackGatehouse } from '../helpers/loopback-gatehouse.js';
import { tempDir } from '../helpers/tmp.js';

t.test('SIGHUP reloads a good config and keeps the running one when the new file is bad', async (t) => {
  const dir = tempDir(t);
  const gh = await spawnLoopbackGatehouse(dir);
  t.teardown(() => gh.stop('SIGKILL'));
  const base = gh.configYaml;
  const http = gh.httpAddr;
  const health = async () => (await fetch(`http://${http}/healthz`)).status;
  t.equal(await health(), 200);

  fs.writeFileSync(path.join(dir, 'gatehouse.yml'), base + 'log:\n  level: debug\n');
  gh.proc.kill('SIGHUP');
  await gh.waitForLog((r) => r.event === 'gatehouse.reloaded');

  fs.writeFileSync(path.join(dir, 'gatehouse.yml'), base + 'dns:\n  lisen: oops\n');
  gh.proc.kill('SIGHUP');
  const rejected = await gh.waitForLog((r) => r.event === 'gatehouse.reload_rejected');
  t.match(String(rejected.reason), /gatehouse\.yml:\d+:/, 'the rejection names file:line');
  t.equal(await health(), 200, 'still serving on the old configuration');
  t.equal(await gh.stop(), 0, 'SIGTERM stops cleanly');
  t.notOk(fs.existsSync(path.join(dir, 'data', 'gatehouse.pid')), 'the server lock is removed on exit');
});
