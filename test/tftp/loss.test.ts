/**
 * Transfers complete under 10 % packet loss in both directions, through a lossy UDP relay
 * (test/tftp/lossy-proxy.ts; the kernel here offers no netem). Real clients and the TS client
 * with a window. The server retransmits on its own timer (100 ms here); clients re-acknowledge
 * repeated blocks.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { tftpGet } from '../../src/tftp/client.js';
import { tempDir } from '../helpers/tmp.js';
import { makeRoot, metric, startTftp, waitFor } from './helpers.js';
import { LossyProxy } from './lossy-proxy.js';

const run = promisify(execFile);
const LOSS = 0.1;

async function setup(t: Parameters<typeof tempDir>[0], seed: number) {
  const files = makeRoot(t, { 'prologin.kpxe': 74_320, 'big.bin': 1_000_000 });
  // A 100 ms first interval keeps the test short; the ceiling stays above the clients' 5 s timers.
  const h = await startTftp(t, { root: files.root, timeoutMs: 100, maxTimeoutMs: 6400, retries: 12 });
  const proxy = await LossyProxy.start(h.port, LOSS, seed);
  t.teardown(() => proxy.close());
  return { ...files, h, proxy, out: tempDir(t, 'ghtftp-loss-') };
}

async function afterwards(t: Test, s: Awaited<ReturnType<typeof setup>>) {
  t.ok(
    s.proxy.dropped.toServer > 0 && s.proxy.dropped.toClient > 0,
    `loss in both directions ${JSON.stringify(s.proxy.dropped)}`,
  );
  await waitFor(() => s.h.server.activeTransfers === 0, 10_000, 'every transfer state freed');
  t.ok(metric(await s.h.metrics(), 'gatehouse_tftp_retransmitted_blocks_total') > 0, 'server retransmitted');
}

t.test('TS client, windowsize 16 and lock-step, under 10% loss', async (t) => {
  const s = await setup(t, 1);
  const windowed = await tftpGet({
    host: '127.0.0.1',
    port: s.proxy.port,
    file: 'big.bin',
    options: { blksize: 1468, windowsize: 16, tsize: 0 },
    timeoutMs: 300,
    retries: 20,
  });
  t.ok(windowed.data.equals(s.bytes['big.bin']!), 'windowed: identical');
  const lockstep = await tftpGet({
    host: '127.0.0.1',
    port: s.proxy.port,
    file: 'prologin.kpxe',
    timeoutMs: 300,
    retries: 20,
  });
  t.ok(lockstep.data.equals(s.bytes['prologin.kpxe']!), 'lock-step: identical');
  await afterwards(t, s);
});

t.test('tftp-hpa under 10% loss', async (t) => {
  const s = await setup(t, 2);
  // rexmt 1: the client resends a lost request after 1 s instead of 5.
  const child = execFile('tftp', ['127.0.0.1', String(s.proxy.port)], { cwd: s.out, timeout: 60_000 });
  child.stdin!.end('mode binary\nrexmt 1\ntimeout 30\nget prologin.kpxe out.kpxe\nquit\n');
  await new Promise((resolve) => child.on('exit', resolve));
  t.ok(fs.readFileSync(path.join(s.out, 'out.kpxe')).equals(s.bytes['prologin.kpxe']!), 'identical');
  await afterwards(t, s);
});

t.test('atftp with blksize/tsize under 10% loss', async (t) => {
  const s = await setup(t, 3);
  await run(
    'atftp',
    [
      '--option',
      'blksize 1456',
      '--option',
      'tsize 0',
      '-g',
      '-r',
      'prologin.kpxe',
      '-l',
      'out.kpxe',
      '127.0.0.1',
      String(s.proxy.port),
    ],
    { cwd: s.out, timeout: 90_000 },
  ).catch((e) => t.comment(`atftp: ${e}`));
  t.ok(fs.readFileSync(path.join(s.out, 'out.kpxe')).equals(s.bytes['prologin.kpxe']!), 'identical');
  await afterwards(t, s);
});

t.test('curl under 10% loss', async (t) => {
  const s = await setup(t, 4);
  // curl asks for RFC 2349 timeout=1, which the server honours: each loss costs 1 s, so fewer,
  // bigger blocks keep the test short. --connect-timeout sets curl's own retransmission interval.
  const url = `tftp://127.0.0.1:${s.proxy.port}/prologin.kpxe`;
  await run('curl', ['-sS', '--connect-timeout', '5', '--tftp-blksize', '1456', '-o', 'out.kpxe', url], {
    cwd: s.out,
    timeout: 60_000,
  }).catch((e) => t.comment(`curl: ${e}`));
  t.ok(fs.readFileSync(path.join(s.out, 'out.kpxe')).equals(s.bytes['prologin.kpxe']!), 'identical');
  await afterwards(t, s);
});
