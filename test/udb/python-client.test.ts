import { execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { writeServerLock } from '../../src/cli/server-lock.js';
import { cli, fileWith, SECRETS, startUdb } from './helpers.js';

const run = promisify(execFile);
const CLIENT = path.join(path.dirname(fileURLToPath(import.meta.url)), '../clients/prologin_client.py');
const hasPython = (await run('python3', ['-c', 'print(1)']).then(
  () => true,
  () => false,
)) as boolean;

async function py(...args: string[]): Promise<{ code: number; out: string }> {
  return run('python3', [CLIENT, ...args], { timeout: 15_000 }).then(
    (r) => ({ code: 0, out: r.stdout.trim() }),
    (e: { code: number; stdout: string }) => ({ code: e.code, out: String(e.stdout).trim() }),
  );
}

// The stdlib client of test/clients (written to §1.3/§1.4) against UDB: what udbsync_passwd,
// udbsync_django and `connect(auth=True)` callers do.
t.test(
  'the Python client: query, query_private and poll_updates on udb/udbsync',
  { skip: hasPython ? false : 'python3 not available' },
  async (t) => {
    const gh = await startUdb(t);
    writeServerLock(gh.config.dataDir, { pid: process.pid, http: gh.app.http.addresses()[0]! });
    const connect = `127.0.0.1:${gh.app.http.port}`;
    await cli([
      'udb',
      'batchimport',
      '--data',
      gh.config.dataDir,
      '--logins',
      '--passwords',
      '--type=orga',
      '--file',
      fileWith(t, 'o', 'cana_p:orga\n'),
    ]);

    const pub = await py(
      'rpc',
      'http://udb/',
      'query',
      '--connect',
      connect,
      '--kwargs',
      '{"login": "cana_p"}',
    );
    t.equal(pub.code, 0);
    const [user] = JSON.parse(pub.out) as Array<Record<string, unknown>>;
    t.same(Object.keys(user!), ['login', 'firstname', 'lastname', 'uid', 'group', 'shell', 'ssh_key', 'id']);

    const priv = await py(
      'rpc',
      'http://udb/',
      'query_private',
      '--secret',
      SECRETS.udbClientAuth,
      '--connect',
      connect,
    );
    t.match(JSON.parse(priv.out), [{ login: 'cana_p', password: 'orga', uid: 11001 }]);
    const noSecret = await py('rpc', 'http://udb/', 'query_private', '--connect', connect);
    t.equal(noSecret.code, 3);
    t.equal(noSecret.out, 'RemoteError MissingToken query_private');
    const ssh = await py('rpc', 'http://udb/', 'query', '--connect', connect, '--kwargs', '{"ssh_key": "x"}');
    t.equal(ssh.out, "RemoteError ValueError 'ssh_key' is not a valid query argument");

    const poller = spawn('python3', [
      CLIENT,
      'poll',
      'http://udbsync/',
      '--secret',
      SECRETS.udbsyncSub,
      '--pk',
      'login',
      '--lines',
      '2',
      '--connect',
      connect,
    ]);
    t.teardown(() => {
      poller.kill();
    });
    const lines: string[] = [];
    let wake: (() => void) | undefined;
    let buf = '';
    poller.stdout.on('data', (c: Buffer) => {
      buf += c.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
      wake?.();
    });
    const next = async () => {
      const deadline = Date.now() + 5000;
      while (lines.length === 0 && Date.now() < deadline)
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 100);
        });
      if (lines.length === 0) throw new Error('no line from the python poller');
      return lines.shift()!;
    };
    const first = await next();
    t.match(first, /^\{'cana_p': \{'login': 'cana_p', .*'password': 'orga', .*\}\} \{'cana_p': 'created'\}$/);
    const mod = await cli([
      'udb',
      'usermod',
      'cana_p',
      '--data',
      gh.config.dataDir,
      '--password',
      'NewPass9',
    ]);
    t.equal(mod.code, 0);
    t.match(await next(), /'password': 'NewPass9'.*\{'cana_p': 'updated'\}$/);
  },
);
