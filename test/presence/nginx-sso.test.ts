import { type ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { freePort } from '../helpers/ports.js';
import { startGatehouse } from '../helpers/gatehouse.js';
import { repoRoot } from '../helpers/spawn-gatehouse.js';
import { tempDir } from '../helpers/tmp.js';
import { httpRequest, machine, PUB, presencePost, SUB, seed, user } from './helpers.js';

const NGINX = '/usr/sbin/nginx';
const execFileP = promisify(execFile);
type Teardown = { teardown(fn: () => void | Promise<void>): void };

/** The protected site's backend: echoes the X-SSO-* request headers nginx sent it. */
async function echoBackend(t: Teardown): Promise<number> {
  const srv = http.createServer((req, res) => {
    const seen = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k.startsWith('x-sso-')));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(seen));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => srv.close(() => r())));
  return (srv.address() as net.AddressInfo).port;
}

async function waitForPort(port: number, child: ChildProcess, errorLog: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`nginx exited: ${fs.existsSync(errorLog) ? fs.readFileSync(errorLog, 'utf8') : ''}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('nginx did not listen in time');
}

/**
 * A real nginx with its own prefix, config, port, pid file and temp paths, using the shipped
 * contrib/nginx/sso stubs in front of `backendPort`; the `sso` upstream points at Gatehouse.
 */
async function startNginx(t: Teardown, gatehousePort: number, backendPort: number) {
  const dir = tempDir(t, 'ghps-nginx-');
  fs.chmodSync(dir, 0o755);
  const port = await freePort();
  const stubs = path.join(repoRoot, 'contrib/nginx/sso');
  fs.writeFileSync(
    path.join(dir, 'upstream.conf'),
    `upstream sso {\n    server 127.0.0.1:${gatehousePort};\n    keepalive 4;\n}\n`,
  );
  const errorLog = path.join(dir, 'error.log');
  const conf = `
${process.getuid?.() === 0 ? 'user root;' : ''}
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${errorLog} info;
events { worker_connections 256; }
http {
    access_log ${dir}/access.log;
    client_body_temp_path ${dir}/client_body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
    proxy_cache_path ${dir}/cache keys_zone=sso:1m max_size=8m inactive=60s use_temp_path=off;
    include ${dir}/upstream.conf;
    server {
        listen 127.0.0.1:${port};
        server_name mdb;
        include ${stubs}/handler;
        location / {
            include ${stubs}/protect;
            proxy_pass http://127.0.0.1:${backendPort};
        }
    }
}
`;
  const confFile = path.join(dir, 'nginx.conf');
  fs.writeFileSync(confFile, conf);
  await execFileP(NGINX, ['-t', '-p', dir, '-c', confFile, '-e', errorLog]).catch(
    (e: { stderr?: string }) => {
      throw new Error(`nginx -t refused the config: ${e.stderr}`);
    },
  );
  const child = spawn(NGINX, ['-p', dir, '-c', confFile, '-e', errorLog, '-g', 'daemon off;'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.resume();
  child.stderr!.resume();
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGQUIT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await gone;
    clearTimeout(timer);
  });
  await waitForPort(port, child, errorLog);
  return { port, dir };
}

/** GET http://mdb/ through nginx from a chosen loopback address (the "machine"). */
async function viaNginx(port: number, from: string, headers: Record<string, string> = {}) {
  const r = await httpRequest(`http://127.0.0.1:${port}`, {
    path: '/',
    host: 'mdb',
    headers,
    localAddress: from,
  });
  return { ...r, seen: r.status === 200 ? (JSON.parse(r.body) as Record<string, string>) : {} };
}

t.test(
  'scenarios 71-72 through a real nginx with the shipped SSO stubs',
  { skip: fs.existsSync(NGINX) ? false : 'nginx is not installed' },
  async (t) => {
    const gh = await startGatehouse(t, {
      secrets: { presencesyncPub: PUB, presencesyncSub: SUB },
      presence: { timeout: 30 },
    });
    await seed(
      gh.app.store,
      [
        machine('localhost1', '127.0.0.1', 'service', 1),
        machine('ghps-m2', '127.0.0.2', 'user', 2),
        machine('ghps-m4', '127.0.0.4', 'user', 4),
      ],
      [user('nathalie', 'root', 12000), user('aproviste', 'user', 10000), user('root_gw', 'root', 12001)],
    );
    const backend = await echoBackend(t);
    const nginx = await startNginx(t, gh.app.http.port, backend);

    // 72: `fakepresence nathalie localhost1` running → within 12 s a request from the appliance
    // host over 127.0.0.1 (curl -v -H 'Host: mdb' http://127.0.0.1/) shows X-SSO-User: nathalie.
    const fake = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(repoRoot, 'src/cli/main.ts'),
        'presence',
        'fake',
        'nathalie',
        'localhost1',
        '--url',
        gh.baseUrl,
        '--host-header',
        'presencesync',
        '--secret',
        PUB,
      ],
      { cwd: repoRoot, stdio: ['ignore', 'ignore', 'ignore'] },
    );
    t.teardown(() => {
      if (fake.exitCode === null) fake.kill('SIGKILL');
    });
    const startedAt = Date.now();
    let curlOut = '';
    while (Date.now() - startedAt < 45_000) {
      const { stdout, stderr } = await execFileP('curl', [
        '-sv',
        '-H',
        'Host: mdb',
        `http://127.0.0.1:${nginx.port}/`,
      ]);
      curlOut = stderr + stdout;
      if (/^< X-SSO-User: nathalie\r?$/im.test(curlOut)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const firstHeartbeat = gh.logs.find((r) => r.event === 'presence.heartbeat' && r.login === 'nathalie');
    t.ok(firstHeartbeat, 'fakepresence heart-beat');
    t.match(curlOut, /^< X-SSO-User: nathalie\r?$/im, 'curl -v shows X-SSO-User: nathalie');
    t.ok(Date.now() - Date.parse(String(firstHeartbeat?.ts)) < 12_000, 'within 12 s of the first heartbeat');
    t.match(curlOut, /"x-sso-user":"nathalie"/, 'the backend received the identity');
    fake.kill('SIGTERM');

    // 71: a logged-in machine: response and backend carry the identity, backend status working
    t.equal(
      (await presencePost(gh.baseUrl, '/heartbeat', { login: 'aproviste', hostname: 'ghps-m2' })).status,
      200,
    );
    const m2 = await viaNginx(nginx.port, '127.0.0.2', { 'X-SSO-User': 'root_gw' });
    t.equal(m2.status, 200);
    t.equal(m2.headers['x-sso-user'], 'aproviste');
    t.equal(m2.headers['x-sso-status'], 'authenticated');
    t.equal(m2.headers['x-sso-backend-status'], 'working');
    t.same(
      m2.seen,
      { 'x-sso-user': 'aproviste', 'x-sso-status': 'authenticated' },
      'spoofed X-SSO-User replaced by the real one',
    );

    // the cache is keyed by client address: the same URI right after, from another machine
    const m3 = await viaNginx(nginx.port, '127.0.0.3');
    t.equal(
      m3.headers['x-sso-status'],
      'unknown IP 127.0.0.3',
      'no identity handed over from the cached answer',
    );
    t.notOk('x-sso-user' in m3.headers);

    // 71: a client-supplied X-SSO-User from a logged-out machine is not trusted
    const m4 = await viaNginx(nginx.port, '127.0.0.4', {
      'X-SSO-User': 'root_gw',
      'X-SSO-Status': 'authenticated',
    });
    t.equal(m4.status, 200);
    t.equal(m4.headers['x-sso-status'], 'logged-out machine ghps-m4');
    t.notOk('x-sso-user' in m4.headers, 'no X-SSO-User in the response');
    t.same(
      m4.seen,
      { 'x-sso-status': 'logged-out machine ghps-m4' },
      'the backend never sees the spoofed user',
    );

    // 71: SSO backend down → the page is still served, without identity, and says why
    await gh.app.stop();
    const dead = await viaNginx(nginx.port, '127.0.0.5', { 'X-SSO-User': 'root_gw' });
    t.equal(dead.status, 200, 'page served');
    t.equal(dead.headers['x-sso-backend-status'], 'unavailable (error 502)');
    t.notOk('x-sso-user' in dead.headers);
    t.same(dead.seen, {}, 'the backend gets no identity at all');
  },
);
