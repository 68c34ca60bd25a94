import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { escapeField, formatAccessLine } from '../../src/http/access-log.js';
import { startGatehouse } from '../helpers/gatehouse.js';
import { spawnLoopbackGatehouse } from '../helpers/loopback-gatehouse.js';
import { tempDir } from '../helpers/tmp.js';

const execFileP = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `$remote_addr - - [$time_local] "$request" $status $body_bytes_sent "$referer" "$ua" "$host" $request_time` */
const LINE =
  /^(\S+) - - \[(\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] "([^"]*)" (\d{3}) (\d+) "([^"]*)" "([^"]*)" "([^"]*)" (\d+\.\d{3})$/;

function lines(file: string): string[] {
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

async function waitForLines(file: string, n: number): Promise<string[]> {
  for (let i = 0; i < 100 && lines(file).length < n; i++) await sleep(20);
  return lines(file);
}

t.test('access log: nginx combined plus Host and duration, one line per request (curl)', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'access.log');
  const gh = await startGatehouse(t, { http: { accessLog: { enabled: true, path: file } } });
  gh.app.http.vhost('slow', async (_req, res) => {
    await sleep(150);
    res.end('late');
  });
  const base = `http://127.0.0.1:${gh.app.http.port}`;
  const boot = await execFileP('curl', [
    '-s',
    '-o',
    '/dev/null',
    '-w',
    '%{size_download}',
    '-H',
    'Host: netboot',
    '-e',
    'http://ref/x',
    `${base}/bootstrap?arch=x86&mac=52:54:00:12:34:56`,
  ]);
  await execFileP('curl', [
    '-s',
    '-o',
    '/dev/null',
    '-A',
    'evil "agent" \\ é',
    '-H',
    'Host: nosuch.example:8080',
    `${base}/nope`,
  ]);
  await execFileP('curl', [
    '-s',
    '-o',
    '/dev/null',
    '-X',
    'POST',
    '-H',
    'Host: mdb',
    '--data-binary',
    '{"args":[],"kwargs":{}}',
    `${base}/call/query`,
  ]);
  await execFileP('curl', ['-s', '-o', '/dev/null', '-H', 'Host: slow', `${base}/wait`]);
  const got = await waitForLines(file, 4);
  t.equal(got.length, 4, got.join('\n'));

  const [bootLine, missing, rpc, slow] = got.map((l) => LINE.exec(l));
  t.ok(bootLine && missing && rpc && slow, 'every line has the combined+host format');
  t.same(bootLine!.slice(1, 2), ['127.0.0.1'], 'peer');
  t.equal(
    bootLine![3],
    'GET /bootstrap?arch=x86&mac=52:54:00:12:34:56 HTTP/1.1',
    'request line with the query string',
  );
  t.equal(bootLine![4], '200');
  t.equal(bootLine![5], boot.stdout, 'body bytes sent = what curl downloaded');
  t.equal(bootLine![6], 'http://ref/x', 'referer');
  t.match(bootLine![7], /^curl\//, 'user agent');
  t.equal(bootLine![8], 'netboot', 'Host');
  t.equal(missing![4], '404');
  t.equal(missing![7], 'evil \\x22agent\\x22 \\x5C \\xC3\\xA9', 'client text escaped as nginx does');
  t.equal(missing![8], 'nosuch.example:8080', 'Host as sent');
  t.equal(rpc![3], 'POST /call/query HTTP/1.1');
  t.equal(rpc![4], '200');
  t.ok(Number(slow![9]) >= 0.14, `duration in seconds (${slow![9]})`);
});

t.test('access log: a client gone before the answer is logged 499; SIGHUP reopens the file', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'access.log');
  const gh = await startGatehouse(t, { http: { accessLog: { enabled: true, path: file } } });
  gh.app.http.vhost('never', () => {});
  const port = gh.app.http.port;
  const s = net.connect({ host: '127.0.0.1', port }, () =>
    s.write('GET /hang HTTP/1.1\r\nHost: never\r\n\r\n'),
  );
  await sleep(100);
  s.destroy();
  const first = await waitForLines(file, 1);
  t.match(first[0], /"GET \/hang HTTP\/1\.1" 499 0 "-" "-" "never" /);

  fs.renameSync(file, `${file}.1`);
  process.kill(process.pid, 'SIGHUP');
  await sleep(50);
  await execFileP('curl', ['-s', '-o', '/dev/null', `http://127.0.0.1:${port}/healthz`]);
  const fresh = await waitForLines(file, 1);
  t.equal(fresh.length, 1, 'the new file has the request after SIGHUP');
  t.match(fresh[0], /"GET \/healthz HTTP\/1\.1" 200 3 /);
  t.equal(lines(`${file}.1`).length, 1, 'the rotated file got nothing more');
  t.ok(gh.logs.some((r) => r.event === 'http.access_log_reopened'));
});

t.test('access log to stderr with path "-"', async (t) => {
  const gh = await spawnLoopbackGatehouse(tempDir(t), { http: 'accessLog: { enabled: true, path: "-" }' });
  t.teardown(() => gh.stop('SIGKILL'));
  const http = gh.httpAddr;
  await execFileP('curl', ['-s', '-o', '/dev/null', '-H', 'Host: sso', `http://${http}/?a=b`]);
  const rec = await gh.waitForLog(
    (r) => r.event === 'stderr' && /"GET \/\?a=b HTTP\/1\.1"/.test(String(r.line)),
  );
  t.match(String(rec.line), LINE);
  t.match(String(rec.line), /" 204 0 "-" "curl\/[^"]+" "sso" /);
});

t.test('formatting: empty fields are "-", control bytes are escaped', async (t) => {
  t.equal(escapeField(undefined), '-');
  t.equal(escapeField(''), '-');
  t.equal(escapeField('a\nb\x00'), 'a\\x0Ab\\x00');
  const line = formatAccessLine({
    peer: '192.168.0.42',
    time: new Date(0),
    method: 'GET',
    target: '/boot/52:54:00:12:34:56/',
    httpVersion: '1.1',
    status: 200,
    bodyBytes: 512,
    referer: undefined,
    userAgent: 'iPXE/1.21.1',
    host: 'netboot',
    seconds: 0.0042,
  });
  t.match(line, LINE);
  t.match(
    line,
    /^192\.168\.0\.42 - - \[.+\] "GET \/boot\/52:54:00:12:34:56\/ HTTP\/1\.1" 200 512 "-" "iPXE\/1\.21\.1" "netboot" 0\.004$/,
  );
});
