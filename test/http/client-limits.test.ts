import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { promisify } from 'node:util';
import t from 'tap';
import { readBody, sendText } from '../../src/http/respond.js';
import { type TestGatehouse, startGatehouse } from '../helpers/gatehouse.js';

const execFileP = promisify(execFile);

/** A vhost that reads the body with `limit` and answers its length and SHA-256. */
function addEcho(gh: TestGatehouse, limit: number): void {
  gh.app.http.vhost('echo', async (req, res) => {
    const body = await readBody(req, limit);
    sendText(res, 200, `${body.length} ${crypto.createHash('sha256').update(body).digest('hex')}\n`);
  });
}

/** Opens a raw connection from `from`, sends `text`, and collects what comes back until close. */
function rawExchange(port: number, from: string, text: string) {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress: from });
  let received = '';
  socket.on('data', (d: Buffer) => {
    received += d.toString('latin1');
  });
  socket.on('error', () => {});
  const closed = new Promise<string>((resolve) => socket.on('close', () => resolve(received)));
  socket.on('connect', () => socket.write(text));
  const connected = new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return { socket, closed, connected, received: () => received };
}

const partialPost = (host: string) =>
  `POST / HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 100\r\n\r\n0123456789`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('bodies cost memory per byte: a 8 MiB chunked upload in 64 KiB pieces arrives intact', async (t) => {
  const gh = await startGatehouse(t);
  addEcho(gh, 16 * 1024 * 1024);
  const data = crypto.randomBytes(8 * 1024 * 1024);
  const answer = await new Promise<string>((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port: gh.app.http.port,
        method: 'POST',
        path: '/',
        headers: { host: 'echo', 'transfer-encoding': 'chunked' },
      },
      (res) => {
        let s = '';
        res.on('data', (d) => {
          s += d;
        });
        res.on('end', () => resolve(`${res.statusCode} ${s}`));
      },
    );
    req.on('error', reject);
    for (let i = 0; i < data.length; i += 64 * 1024) req.write(data.subarray(i, i + 64 * 1024));
    req.end();
  });
  t.equal(answer, `200 ${data.length} ${crypto.createHash('sha256').update(data).digest('hex')}\n`);
});

t.test('a body over the endpoint limit gets 413 with the reason (curl, declared and chunked)', async (t) => {
  const gh = await startGatehouse(t);
  addEcho(gh, 1000);
  const url = `http://127.0.0.1:${gh.app.http.port}/`;
  const big = 'x'.repeat(5000);
  for (const extra of [[], ['-H', 'Transfer-Encoding: chunked']]) {
    const { stdout } = await execFileP('curl', [
      '-s',
      '-w',
      '\\n%{http_code}',
      '-H',
      'Host: echo',
      ...extra,
      '--data-binary',
      big,
      url,
    ]);
    const [body, code] = stdout.split('\n').filter(Boolean);
    t.equal(code, '413', `status with ${extra.length ? 'chunked' : 'Content-Length'}`);
    t.match(body, /exceeds the 1000-byte limit of this endpoint; send less data/, 'reason in the body');
  }
  const ok = await execFileP('curl', ['-s', '-H', 'Host: echo', '--data-binary', 'x'.repeat(1000), url]);
  t.match(ok.stdout, /^1000 /, 'a body at the limit is accepted');
});

t.test(
  'request bodies from one address beyond http.maxBodiesPerClient get 429; other addresses do not',
  async (t) => {
    const gh = await startGatehouse(t, { http: { maxBodiesPerClient: 2, bodyTimeoutMs: 60_000 } });
    addEcho(gh, 1000);
    const port = gh.app.http.port;
    const held = [
      rawExchange(port, '127.0.0.2', partialPost('echo')),
      rawExchange(port, '127.0.0.2', partialPost('echo')),
    ];
    await Promise.all(held.map((h) => h.connected));
    await sleep(200);
    const third = await rawExchange(port, '127.0.0.2', partialPost('echo')).closed;
    t.match(third, /^HTTP\/1\.1 429 /, 'third body from the same address: 429');
    t.match(third, /Retry-After: 1/);
    t.match(third, /more than 2 request bodies at once from 127\.0\.0\.2; retry later/);
    const other = rawExchange(port, '127.0.0.3', partialPost('echo'));
    await sleep(200);
    t.equal(other.received(), '', 'another address is not refused (still sending its body)');
    other.socket.end('x'.repeat(90));
    t.match(await other.closed.then((r) => r || other.received()), /^HTTP\/1\.1 200 /);
    for (const h of held) h.socket.destroy();
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    t.match(metrics, /gatehouse_http_refused_total\{reason="too_many_bodies"\} 1/);
  },
);

t.test('a body not complete within http.bodyTimeoutMs gets 408 and the connection closes', async (t) => {
  const gh = await startGatehouse(t, { http: { bodyTimeoutMs: 300 } });
  addEcho(gh, 1000);
  const started = Date.now();
  const answer = await rawExchange(gh.app.http.port, '127.0.0.1', partialPost('echo')).closed;
  t.match(answer, /^HTTP\/1\.1 408 /);
  t.match(answer, /request body not received within 300 ms/);
  t.ok(Date.now() - started < 5000, 'closed soon after the deadline');
});

t.test('connections from one address beyond http.maxConnectionsPerClient are closed unread', async (t) => {
  const gh = await startGatehouse(t, { http: { maxConnectionsPerClient: 3 } });
  const port = gh.app.http.port;
  const idle = [0, 1, 2].map(() => rawExchange(port, '127.0.0.2', ''));
  await Promise.all(idle.map((c) => c.connected));
  await sleep(100);
  const fourth = rawExchange(port, '127.0.0.2', 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  t.equal(await fourth.closed, '', 'the fourth connection is closed without an answer');
  const other = await rawExchange(
    port,
    '127.0.0.3',
    'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  ).closed;
  t.match(other, /^HTTP\/1\.1 200 /, 'another address is served');
  idle[0]!.socket.destroy();
  await sleep(100);
  const again = await rawExchange(
    port,
    '127.0.0.2',
    'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  ).closed;
  t.match(again, /^HTTP\/1\.1 200 /, 'a slot freed by a closed connection is usable again');
  for (const c of idle) c.socket.destroy();
});

t.test(
  'a client that hangs up mid-body is logged at info, never error (RPC and other handlers)',
  async (t) => {
    const gh = await startGatehouse(t, { demo: { seed: false } });
    addEcho(gh, 1000);
    const port = gh.app.http.port;
    for (const host of ['mdb', 'echo']) {
      const c = rawExchange(
        port,
        '127.0.0.1',
        `POST /call/query HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 100\r\n\r\n{"args"`,
      );
      await c.connected;
      await sleep(100);
      c.socket.destroy();
      await c.closed;
    }
    await sleep(200);
    const aborted = gh.logs.filter(
      (r) => r.event === 'rpc.client_aborted' || r.event === 'http.client_aborted',
    );
    t.same(
      aborted.map((r) => [r.event, r.level]),
      [
        ['rpc.client_aborted', 'info'],
        ['http.client_aborted', 'info'],
      ],
    );
    t.match(String(aborted[0]!.reason), /closed the connection before sending the whole body/);
    t.same(
      gh.logs.filter((r) => r.level === 'error'),
      [],
      'no error-level line',
    );
  },
);

t.test('an answer sent before its request body arrived says Connection: close', async (t) => {
  const gh = await startGatehouse(t);
  // presencesync does not serve /update: it answers 404 without reading the body.
  const ex = rawExchange(
    gh.app.http.port,
    '127.0.0.1',
    'POST /update HTTP/1.1\r\nHost: presencesync\r\nContent-Length: 100\r\n\r\n0123456789',
  );
  const text = await ex.closed;
  t.match(text, /^HTTP\/1\.1 404 /, 'answered');
  t.match(text, /\r\nconnection: close\r\n/i, 'the client is told the connection ends');
  t.notMatch(text, /\r\nconnection: keep-alive\r\n/i);
});
