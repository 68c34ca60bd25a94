import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { createMachine } from '../../src/mdb/machines.js';
import { RpcException } from '../../src/rpc/errors.js';
import { createRpcHandler } from '../../src/rpc/server.js';
import type { ServiceContext } from '../../src/service.js';
import { startGatehouse } from '../helpers/gatehouse.js';

const run = promisify(execFile);
const CLIENT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'prologin_client.py');

async function py(...args: string[]): Promise<string> {
  const { stdout } = await run('python3', [CLIENT, ...args], { timeout: 15_000 });
  return stdout.trim();
}

/** Reads the lines a long-running Python poller prints. */
function lineReader(child: ChildProcessWithoutNullStreams) {
  const lines: string[] = [];
  let buf = '';
  const waiters: Array<() => void> = [];
  child.stdout.on('data', (c: Buffer) => {
    buf += c.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
    while (waiters.length) waiters.shift()!();
  });
  return async (ms = 5000): Promise<string> => {
    const deadline = Date.now() + ms;
    while (lines.length === 0) {
      if (Date.now() > deadline) throw new Error('no line from the python client');
      await new Promise<void>((r) => {
        const timer = setTimeout(r, 50);
        waiters.push(() => {
          clearTimeout(timer);
          r();
        });
      });
    }
    return lines.shift()!;
  };
}

const secretApp = (ctx: ServiceContext) => {
  ctx.http.vhost(
    'rpcsecret',
    createRpcHandler({
      name: 'rpcsecret',
      secret: 'secret42',
      timeauthEnabled: () => true,
      logger: ctx.logger,
      metrics: ctx.metrics,
      maxBodyBytes: 1 << 20,
      methods: {
        return_number: { auth: true, call: () => 42 },
        raise_value_error: {
          auth: true,
          call: () => {
            throw new RpcException('ValueError', 'Monde de merde.');
          },
        },
      },
    }),
  );
  return undefined;
};

t.test('the Python client drives query, register and poll_updates against the server', async (t) => {
  const gh = await startGatehouse(t, { secrets: { mdbsyncSub: 'SUB', mdbsyncPub: 'PUB' } }, [secretApp]);
  const connect = `127.0.0.1:${gh.app.http.port}`;
  t.equal(
    await py('token', 'secret42', 'return_number', '1600000000'),
    '1600000000:d7392341f0c861484f9118bf082e5b40f716c14fb32624228343f5574f95de30',
    'same vector in Python',
  );
  t.equal(await py('rpc', 'http://mdb/', 'query', '--connect', connect), '[]');

  const poller = spawn('python3', [
    CLIENT,
    'poll',
    'http://mdbsync/',
    '--secret',
    'SUB',
    '--pk',
    'mac',
    '--lines',
    '3',
    '--connect',
    connect,
  ]);
  t.teardown(() => {
    poller.kill();
  });
  const next = lineReader(poller);
  t.equal(await next(), '{} {}', 'poll_updates(print) on an empty MDB prints "{} {}" (setup.rst check)');

  const ip = await py(
    'rpc',
    'http://mdb/',
    'register',
    '--connect',
    connect,
    '--kwargs',
    JSON.stringify({
      hostname: 'pas-r01p01',
      mac: 'AA:BB:CC:DD:EE:01',
      rfs: 0,
      hfs: 0,
      room: 'pasteur',
      mtype: 'user',
    }),
  );
  t.equal(ip, '"192.168.0.1"');
  t.equal(
    await next(),
    "{'aa:bb:cc:dd:ee:01': {'hostname': 'pas-r01p01', 'aliases': '', 'ip': '192.168.0.1', 'mac': 'aa:bb:cc:dd:ee:01', 'rfs': 0, 'hfs': 0, 'mtype': 'user', 'room': 'pasteur', 'is_faulty': False, 'is_faulty_details': ''}} {'aa:bb:cc:dd:ee:01': 'created'}",
  );
  const dup = await run('python3', [
    CLIENT,
    'rpc',
    'http://mdb/',
    'register',
    '--connect',
    connect,
    '--args',
    JSON.stringify(['pas-r01p01', 'aa:bb:cc:dd:ee:02', 0, 0, 'pasteur', 'user']),
  ]).catch((e: { stdout: string; code: number }) => e);
  t.match(
    String((dup as { stdout: string }).stdout),
    /RemoteError ValidationError \{'hostname': \['Machine with this Host name already exists.'\]\}/,
  );

  t.equal(
    await py(
      'send',
      'http://mdbsync/',
      '--secret',
      'PUB',
      '--connect',
      connect,
      JSON.stringify([{ type: 'delete', data: { mac: 'aa:bb:cc:dd:ee:01' } }]),
    ),
    'sent',
  );
  t.equal(
    await next(),
    "{} {'aa:bb:cc:dd:ee:01': 'deleted'}",
    'an external publish reaches Python subscribers',
  );

  const q = JSON.parse(
    await py(
      'rpc',
      'http://mdb/',
      'query',
      '--connect',
      connect,
      '--kwargs',
      '{"hostname__startswith": "pas"}',
    ),
  ) as unknown[];
  t.equal(q.length, 1, 'external /update does not touch the MDB store');
  await gh.app.store.write((tx) =>
    createMachine(tx, { hostname: 'x', mac: '02:00:00:00:00:01', mtype: 'user' }),
  );

  t.equal(
    await py('rpc', 'http://rpcsecret/', 'return_number', '--secret', 'secret42', '--connect', connect),
    '42',
    'Python-made tokens verify',
  );
  const bad = await run('python3', [
    CLIENT,
    'rpc',
    'http://rpcsecret/',
    'return_number',
    '--secret',
    'nope',
    '--connect',
    connect,
  ]).catch((e: { stdout: string }) => e);
  t.match(String((bad as { stdout: string }).stdout), /RemoteError BadToken return_number/);
  const missing = await run('python3', [
    CLIENT,
    'rpc',
    'http://rpcsecret/',
    'return_number',
    '--connect',
    connect,
  ]).catch((e: { stdout: string }) => e);
  t.match(String((missing as { stdout: string }).stdout), /RemoteError MissingToken return_number/);
  const ve = await run('python3', [
    CLIENT,
    'rpc',
    'http://rpcsecret/',
    'raise_value_error',
    '--secret',
    'secret42',
    '--connect',
    connect,
  ]).catch((e: { stdout: string }) => e);
  t.match(String((ve as { stdout: string }).stdout), /RemoteError ValueError Monde de merde\./);
});
