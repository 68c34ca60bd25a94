import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { spawnGatehouse } from '../helpers/spawn-gatehouse.js';
import { tempDir } from '../helpers/tmp.js';

t.test('SIGHUP reloads a good config and keeps the running one when the new file is bad', async (t) => {
  const dir = tempDir(t);
  const base = `dataDir: ${dir}/data\ndemo:\n  seed: false\nhttp:\n  listen: ["127.0.0.1:0"]\ndns:\n  listen: ["127.0.0.1:0"]\ntftp:\n  listen: ["127.0.0.1:0"]\ndhcp:\n  listen: "127.0.0.1:0"\n`;
  const gh = await spawnGatehouse({ configYaml: base, dir });
  t.teardown(() => gh.stop('SIGKILL'));
  const http = String(gh.stdout[0]).match(/http (\S+)/)![1]!.replace(/,$/, '');
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
