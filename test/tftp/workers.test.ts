/**
 * Transfers in worker threads (`tftp.workers` > 1): real clients get identical bytes, each
 * transfer is logged and counted exactly once by the main thread, a vanished client frees its
 * state inside the worker, a killed worker is replaced without taking the appliance down, workers
 * that crash on every transfer leave the main thread serving, and shutdown and reload end workers
 * cleanly.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import t, { type Test } from 'tap';
import { createMemoryLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics.js';
import { tftpGet } from '../../src/tftp/client.js';
import { decodePacket, encodeAck, encodeRequest } from '../../src/tftp/codec.js';
import { tftpConfigSchema } from '../../src/tftp/config.js';
import { TftpServer } from '../../src/tftp/server.js';
import { tempDir } from '../helpers/tmp.js';
import { missingCommands } from '../helpers/tools.js';
import { makeRoot, metric, RawPeer, startTftp, type TftpHarness, waitFor } from './helpers.js';

const run = promisify(execFile);

const skipClients = missingCommands(['tftp', 'atftp', 'curl']);

const transferLines = (h: TftpHarness, result?: string) =>
  h.gh.logs.filter((l) => l.event === 'tftp.transfer' && (result === undefined || l.result === result));

/** A raw client that asks for `file`, acknowledges the first DATA and then holds the transfer open. */
async function heldTransfer(t: Test, h: TftpHarness, file: string) {
  const peer = await RawPeer.open(t);
  await peer.send(encodeRequest({ filename: file, mode: 'octet', options: [] }), h.port);
  const first = await peer.next(5000);
  t.match(decodePacket(first.msg), { ok: true, packet: { op: 'DATA', block: 1 } });
  await peer.send(encodeAck(1), first.rinfo.port);
  await peer.next(5000); // DATA 2: the transfer is confirmed and running
  return peer;
}

t.test(
  'tftp-hpa, atftp and curl get identical files through worker threads; one log line and one count each',
  { skip: skipClients },
  async (t) => {
    const { root, bytes } = makeRoot(t, { 'prologin.kpxe': 74_320, 'ten.bin': 10 * 1024 * 1024 });
    const out = tempDir(t, 'ghtw-out-');
    const h = await startTftp(t, { root, workers: 2 });
    await h.server.prestartWorkers();
    t.equal(h.server.workerThreads().length, 2, 'two worker threads');
    const port = String(h.port);
    const jobs: Array<{ name: string; file: string; argv: [string, string[]] }> = [];
    for (const file of ['prologin.kpxe', 'ten.bin']) {
      jobs.push({
        name: `tftp-hpa-${file}`,
        file,
        argv: ['tftp', ['127.0.0.1', port, '-m', 'binary', '-c', 'get', file, `tftp-hpa-${file}`]],
      });
      jobs.push({
        name: `atftp-${file}`,
        file,
        argv: [
          'atftp',
          [
            '--option',
            'blksize 1468',
            '--option',
            'tsize 0',
            '--option',
            'windowsize 8',
            '-g',
            '-r',
            file,
            '-l',
            `atftp-${file}`,
            '127.0.0.1',
            port,
          ],
        ],
      });
      jobs.push({
        name: `curl-${file}`,
        file,
        argv: ['curl', ['-sS', '-o', `curl-${file}`, `tftp://127.0.0.1:${port}/${file}`]],
      });
    }
    // All at once, so both workers carry transfers.
    await Promise.all(
      jobs.map(async (j) => {
        await run(j.argv[0], j.argv[1], { cwd: out, timeout: 60_000 });
        const got = fs.readFileSync(path.join(out, j.name));
        t.ok(got.equals(bytes[j.file]!), `${j.name}: ${got.length} bytes identical`);
      }),
    );
    const okCount = async () => metric(await h.metrics(), 'gatehouse_tftp_transfers_total', { result: 'ok' });
    await waitFor(async () => (await okCount()) === jobs.length, 5000, 'every transfer reported');
    // A probe answer comes after everything the workers posted before it: no late duplicates.
    t.same(await h.server.probeWorkers(), [0, 0], 'no transfer left in either worker');
    const m = await h.metrics();
    t.equal(metric(m, 'gatehouse_tftp_transfers_total', { result: 'ok' }), jobs.length, 'counted once each');
    t.equal(metric(m, 'gatehouse_tftp_transfers_started_total', { runner: 'worker' }), jobs.length);
    t.equal(metric(m, 'gatehouse_tftp_transfers_started_total', { runner: 'main' }), 0);
    t.equal(
      metric(m, 'gatehouse_tftp_sent_bytes_total'),
      3 * (74_320 + 10 * 1024 * 1024),
      'bytes counted from the workers',
    );
    t.equal(metric(m, 'gatehouse_tftp_active_transfers'), 0);
    t.equal(metric(m, 'gatehouse_tftp_workers'), 2);
    const lines = transferLines(h, 'ok');
    t.equal(lines.length, jobs.length, 'one log line per transfer');
    t.equal(new Set(lines.map((l) => l.client)).size, jobs.length, 'no transfer logged twice');
    t.same(
      new Set(lines.filter((l) => l.file === 'ten.bin').map((l) => l.blksize)),
      new Set([512, 1468]),
      'tftp-hpa/curl at 512, atftp at 1468',
    );
    t.match(lines.find((l) => l.file === 'ten.bin' && l.blksize === 1468)!, {
      level: 'info',
      service: 'tftp',
      local: '127.0.0.1',
      mode: 'octet',
      bytes: 10 * 1024 * 1024,
      size: 10 * 1024 * 1024,
      windowsize: 8,
      retransmittedBlocks: 0,
    });
  },
);

t.test('a client that vanishes frees its state in the worker', async (t) => {
  const { root } = makeRoot(t, { 'big.bin': 200_000 });
  const h = await startTftp(t, { root, workers: 2, timeoutMs: 30, maxTimeoutMs: 60, retries: 3 });
  await h.server.prestartWorkers();

  // Its port closes: the worker's connected socket gets ECONNREFUSED.
  const r = await tftpGet({ host: '127.0.0.1', port: h.port, file: 'big.bin', vanishAfterBlocks: 5 });
  t.equal(r.blocks, 5);
  await waitFor(() => h.server.activeTransfers === 0, 3000, 'main thread slot freed');
  t.same(await h.server.probeWorkers(), [0, 0], 'worker state freed');

  // Its port stays open but it never answers again.
  const silent = await RawPeer.open(t);
  await silent.send(encodeRequest({ filename: 'big.bin', mode: 'octet', options: [] }), h.port);
  const first = await silent.next();
  await silent.send(encodeAck(1), first.rinfo.port);
  const held = (await h.server.probeWorkers()).reduce((a, b) => a + b, 0);
  t.equal(held, 1, 'the silent transfer is held by a worker');
  t.equal(h.server.transfersInWorkers, 1);
  await waitFor(() => h.server.activeTransfers === 0, 3000, 'silent client given up');
  t.same(await h.server.probeWorkers(), [0, 0], 'worker state freed after the timeout');

  const m = await h.metrics();
  t.equal(metric(m, 'gatehouse_tftp_transfers_total', { result: 'client-gone' }), 1);
  t.equal(metric(m, 'gatehouse_tftp_transfers_total', { result: 'timeout' }), 1);
  t.equal(metric(m, 'gatehouse_tftp_transfers_started_total', { runner: 'worker' }), 2);
  t.ok(
    metric(m, 'gatehouse_tftp_retransmitted_blocks_total') >= 3,
    'retransmissions counted from the worker',
  );
  t.equal(transferLines(h, 'client-gone').length, 1);
  t.equal(transferLines(h, 'timeout').length, 1);
  t.match(transferLines(h, 'timeout')[0], { file: 'big.bin', bytes: 512 });
});

t.test('a killed worker is replaced; its transfer is logged once as worker-lost', async (t) => {
  const { root, bytes } = makeRoot(t, { 'big.bin': 300_000 });
  // Long timers: the held transfer must still be running when its worker is killed.
  const h = await startTftp(t, { root, workers: 2, timeoutMs: 10_000, maxTimeoutMs: 20_000 });
  await h.server.prestartWorkers();
  const peer = await heldTransfer(t, h, 'big.bin');
  const load = await h.server.probeWorkers();
  t.same(
    [...load].sort((a, b) => a - b),
    [0, 1],
    'one worker holds the transfer',
  );
  const victim = h.server.workerThreads()[load.indexOf(1)]!;
  const victimId = victim.threadId;
  await victim.terminate();

  await waitFor(() => transferLines(h, 'worker-lost').length === 1, 5000, 'lost transfer logged');
  await waitFor(() => h.server.workerThreads().length === 2, 5000, 'replacement started');
  t.notOk(
    h.server.workerThreads().some((w) => w.threadId === victimId),
    'the killed thread is not in the pool',
  );
  t.match(transferLines(h, 'worker-lost')[0], {
    client: `127.0.0.1:${peer.port}`,
    file: 'big.bin',
    result: 'worker-lost',
  });
  t.equal(h.gh.logs.filter((l) => l.event === 'tftp.worker_exited').length, 1, 'the death is logged');
  t.equal(h.server.activeTransfers, 0, 'its slot is free');
  let m = await h.metrics();
  t.equal(metric(m, 'gatehouse_tftp_transfers_total', { result: 'worker-lost' }), 1);
  t.equal(metric(m, 'gatehouse_tftp_worker_restarts_total'), 1);
  t.equal(metric(m, 'gatehouse_tftp_active_transfers'), 0);

  // The same client retries and is served; so are others, on both workers.
  await h.server.prestartWorkers();
  const gets = await Promise.all(
    Array.from({ length: 4 }, () =>
      tftpGet({
        host: '127.0.0.1',
        port: h.port,
        file: 'big.bin',
        options: { blksize: 1468, windowsize: 4 },
      }),
    ),
  );
  for (const g of gets) t.ok(g.data.equals(bytes['big.bin']!), 'identical after the restart');
  await waitFor(() => transferLines(h, 'ok').length === 4, 3000, 'new transfers logged');
  m = await h.metrics();
  t.equal(metric(m, 'gatehouse_tftp_transfers_started_total', { runner: 'worker' }), 5);
  t.equal(transferLines(h, 'worker-lost').length, 1, 'still one line for the lost transfer');
});

t.test('shutdown ends transfers in workers with one line each, and the threads exit', async (t) => {
  const { root } = makeRoot(t, { 'big.bin': 300_000 });
  const h = await startTftp(t, { root, workers: 2, timeoutMs: 10_000, maxTimeoutMs: 20_000 });
  await h.server.prestartWorkers();
  const threads = h.server.workerThreads();
  const exited = threads.map((w) => new Promise<number>((resolve) => w.once('exit', resolve)));
  const peers = [await heldTransfer(t, h, 'big.bin'), await heldTransfer(t, h, 'big.bin')];
  t.same(await h.server.probeWorkers(), [1, 1], 'one transfer in each worker');
  await h.gh.app.stop();
  const codes = await Promise.all(exited);
  t.same(codes, [0, 0], 'both threads ended by themselves');
  const lines = transferLines(h, 'shutdown');
  t.equal(lines.length, 2, 'one shutdown line per transfer');
  t.same(new Set(lines.map((l) => l.client)), new Set(peers.map((p) => `127.0.0.1:${p.port}`)));
  t.equal(h.gh.logs.filter((l) => l.event === 'tftp.worker_exited').length, 0, 'no death reported');
  t.equal(h.server.workerThreads().length, 0);
});

t.test('reload changes the number of workers; workers: 1 runs transfers on the main thread', async (t) => {
  const { root, bytes } = makeRoot(t, { 'boot.img': 100_000 });
  const h = await startTftp(t, { root, workers: 2 });
  await h.server.prestartWorkers();
  const before = h.server.workerThreads();
  const exited = before.map((w) => new Promise<number>((resolve) => w.once('exit', resolve)));
  const get = () =>
    tftpGet({ host: '127.0.0.1', port: h.port, file: 'boot.img', options: { blksize: 1468 } });

  await h.gh.app.reload({ ...h.gh.config, tftp: { ...h.gh.config.tftp, workers: 1 } });
  t.same(await Promise.all(exited), [0, 0], 'idle workers retire cleanly');
  t.equal(h.server.workerThreads().length, 0);
  t.ok((await get()).data.equals(bytes['boot.img']!));
  let m = await h.metrics();
  t.equal(
    metric(m, 'gatehouse_tftp_transfers_started_total', { runner: 'main' }),
    1,
    'served by the main thread',
  );
  t.equal(metric(m, 'gatehouse_tftp_workers'), 0);

  await h.gh.app.reload({ ...h.gh.config, tftp: { ...h.gh.config.tftp, workers: 3 } });
  const three = await Promise.all([get(), get(), get()]);
  for (const g of three) t.ok(g.data.equals(bytes['boot.img']!));
  m = await h.metrics();
  t.equal(metric(m, 'gatehouse_tftp_transfers_started_total', { runner: 'worker' }), 3, 'back in workers');
  t.ok(h.server.workerThreads().length >= 1 && h.server.workerThreads().length <= 3);
  t.equal(h.gh.logs.filter((l) => l.event === 'tftp.worker_exited').length, 0);
});

t.test('workers: 1 never starts a thread', async (t) => {
  const { root, bytes } = makeRoot(t, { 'boot.img': 50_000 });
  const h = await startTftp(t, { root, workers: 1 });
  const gets = await Promise.all(
    [1, 2, 3].map(() => tftpGet({ host: '127.0.0.1', port: h.port, file: 'boot.img' })),
  );
  for (const g of gets) t.ok(g.data.equals(bytes['boot.img']!));
  t.equal(h.server.workerThreads().length, 0);
  const m = await h.metrics();
  t.equal(metric(m, 'gatehouse_tftp_transfers_started_total', { runner: 'main' }), 3);
  t.equal(metric(m, 'gatehouse_tftp_transfers_started_total', { runner: 'worker' }), 0);
});

t.test(
  'workers that crash on every transfer: the appliance keeps serving from the main thread',
  async (t) => {
    const { root, bytes } = makeRoot(t, { 'boot.img': 60_000 });
    const logger = createMemoryLogger('debug');
    const metrics = new Metrics();
    const server = new TftpServer(
      tftpConfigSchema.parse({ root, listen: ['127.0.0.1:0'], workers: 2, warmupRequests: 0 }),
      logger,
      metrics,
      { workerUrl: new URL('./fixtures/crashing-worker.ts', import.meta.url) },
    );
    await server.start();
    t.teardown(() => server.stop());
    const port = server.addresses()[0]!.port;
    // The client retransmits its request until a transfer survives (the crashing worker sends nothing).
    const got = await tftpGet({ host: '127.0.0.1', port, file: 'boot.img', timeoutMs: 300, retries: 30 });
    t.ok(got.data.equals(bytes['boot.img']!), 'served despite the crashing workers');
    const second = await tftpGet({ host: '127.0.0.1', port, file: 'boot.img', timeoutMs: 300, retries: 30 });
    t.ok(second.data.equals(bytes['boot.img']!));
    const m = await metrics.text();
    const lost = metric(m, 'gatehouse_tftp_transfers_total', { result: 'worker-lost' });
    t.ok(lost >= 2, `transfers lost with their workers (${lost})`);
    t.ok(
      metric(m, 'gatehouse_tftp_transfers_started_total', { runner: 'main' }) >= 1,
      'fell back to the main thread',
    );
    t.ok(metric(m, 'gatehouse_tftp_worker_restarts_total') >= 1, 'workers were restarted');
    const lines = logger.records.filter((l) => l.event === 'tftp.transfer' && l.result === 'worker-lost');
    t.equal(lines.length, lost, 'one line per lost transfer');
    t.ok(
      logger.records.some(
        (l) => l.event === 'tftp.worker_error' && String(l.error).includes('simulated bug'),
      ),
      'the uncaught exception is logged',
    );
    t.equal(
      logger.records.filter((l) => l.event === 'tftp.worker_exited').length,
      lost,
      'each death logged (each took one transfer)',
    );
    // The client is done once it sent its last ACK; the server may still be reading it.
    await waitFor(() => server.activeTransfers === 0, 3000, 'every transfer ended');
  },
);
