import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { request } from 'undici';
import { TftpClientError, tftpGet } from '../../src/tftp/client.js';
import { decodePacket, encodeAck, encodeRequest } from '../../src/tftp/codec.js';
import { fromNetascii } from '../../src/tftp/netascii.js';
import { makeRoot, metric, RawPeer, startTftp, waitFor } from './helpers.js';

const KPXE = 74_320;

t.test(
  'scenario 46: OACK with the real tsize, identical bytes, ../ refused, WRQ refused, missing -> error 1',
  async (t) => {
    const { root, bytes } = makeRoot(t, { 'prologin.kpxe': KPXE });
    const h = await startTftp(t, { root });
    const got = await tftpGet({
      host: '127.0.0.1',
      port: h.port,
      file: 'prologin.kpxe',
      options: { tsize: 0, blksize: 1456 },
    });
    t.same(
      got.oack,
      { tsize: String(KPXE), blksize: '1456' },
      'OACK carries the real size and the granted blksize',
    );
    t.ok(got.data.equals(bytes['prologin.kpxe']!), 'bytes identical to the source');

    const passwd = await tftpGet({ host: '127.0.0.1', port: h.port, file: '../../etc/passwd' }).catch(
      (e) => e,
    );
    t.type(passwd, TftpClientError);
    t.equal(passwd.code, 2, '../../etc/passwd -> access violation');
    const wrq = await tftpGet({ host: '127.0.0.1', port: h.port, file: 'prologin.kpxe', write: true }).catch(
      (e) => e,
    );
    t.equal(wrq.code, 2, 'WRQ refused');
    const missing = await tftpGet({ host: '127.0.0.1', port: h.port, file: 'missing.bin' }).catch((e) => e);
    t.equal(missing.code, 1, 'missing file -> error code 1');
    t.match(missing.message, /File not found/);

    await waitFor(
      () => h.gh.logs.some((l) => l.event === 'tftp.transfer' && l.result === 'ok'),
      2000,
      'transfer log',
    );
    const line = h.gh.logs.find((l) => l.event === 'tftp.transfer' && l.result === 'ok')!;
    t.match(line, {
      level: 'info',
      file: 'prologin.kpxe',
      bytes: KPXE,
      blksize: 1456,
      windowsize: 1,
      result: 'ok',
    });
    t.match(line.client, /^127\.0\.0\.1:\d+$/);
    t.type(line.durationMs, 'number');
    const m = await h.metrics();
    t.equal(metric(m, 'gatehouse_tftp_transfers_total', { result: 'ok' }), 1);
    t.equal(metric(m, 'gatehouse_tftp_requests_refused_total', { reason: 'not-found' }), 1);
    t.equal(metric(m, 'gatehouse_tftp_requests_refused_total', { reason: 'bad-path' }), 1);
    t.equal(metric(m, 'gatehouse_tftp_requests_refused_total', { reason: 'write-refused' }), 1);
    t.equal(metric(m, 'gatehouse_tftp_sent_bytes_total'), KPXE);
    t.equal(metric(m, 'gatehouse_tftp_active_transfers'), 0);
  },
);

t.test('options: windowsize, clamped blksize, timeout; block numbers wrap past 65535', async (t) => {
  const size = 65_540 * 8 + 3; // 65 541 blocks of 8 bytes
  const { root, bytes } = makeRoot(t, { 'wrap.bin': size, 'empty.bin': 0, 'exact.bin': 1024 });
  const h = await startTftp(t, { root, maxBlksize: 1400, maxWindowsize: 32 });
  const wrap = await tftpGet({
    host: '127.0.0.1',
    port: h.port,
    file: 'wrap.bin',
    options: { blksize: 8, windowsize: 16, timeout: 2 },
  });
  t.same(wrap.oack, { blksize: '8', windowsize: '16', timeout: '2' });
  t.equal(wrap.blocks, 65_541, 'more than 65535 blocks');
  t.ok(wrap.data.equals(bytes['wrap.bin']!), 'identical after the wrap');
  const clamped = await tftpGet({
    host: '127.0.0.1',
    port: h.port,
    file: 'exact.bin',
    options: { blksize: 9000, windowsize: 500 },
  });
  t.same(clamped.oack, { blksize: '1400', windowsize: '32' });
  const exact = await tftpGet({ host: '127.0.0.1', port: h.port, file: 'exact.bin' });
  t.equal(exact.blocks, 3, '1024 bytes in 512-byte blocks end with an empty third block');
  t.ok(exact.data.equals(bytes['exact.bin']!));
  const empty = await tftpGet({ host: '127.0.0.1', port: h.port, file: 'empty.bin', options: { tsize: 0 } });
  t.same(empty.oack, { tsize: '0' });
  t.equal(empty.bytes, 0);
});

t.test('netascii: line ends converted on the wire, tsize is the converted size', async (t) => {
  const { root } = makeRoot(t, {});
  const text = 'DEFAULT menu\nLABEL a\r\n  KERNEL x\n';
  fs.writeFileSync(path.join(root, 'menu.txt'), text, { mode: 0o644 });
  const h = await startTftp(t, { root });
  const got = await tftpGet({
    host: '127.0.0.1',
    port: h.port,
    file: 'menu.txt',
    mode: 'netascii',
    options: { tsize: 0 },
  });
  t.equal(got.data.toString('latin1'), 'DEFAULT menu\r\nLABEL a\r\0\r\n  KERNEL x\r\n');
  t.equal(got.oack?.tsize, String(got.data.length));
  t.equal(fromNetascii(got.data).toString(), text);
});

t.test('replies come from the address the request was sent to (one listener per address)', async (t) => {
  const { root, bytes } = makeRoot(t, { 'boot.img': 3000 });
  const h = await startTftp(t, { root, listen: ['127.0.0.1:0', '127.0.0.2:0'] });
  const [a, b] = h.server.addresses();
  t.equal(a!.address, '127.0.0.1');
  t.equal(b!.address, '127.0.0.2');
  const viaA = await tftpGet({ host: '127.0.0.1', port: a!.port, file: 'boot.img' });
  const viaB = await tftpGet({ host: '127.0.0.2', port: b!.port, file: 'boot.img' });
  t.equal(viaA.server.address, '127.0.0.1');
  t.equal(viaB.server.address, '127.0.0.2', 'transfer socket bound to the listener address');
  t.not(viaB.server.port, b!.port, 'transfer runs on its own ephemeral port');
  t.ok(viaB.data.equals(bytes['boot.img']!));
  const err = await tftpGet({ host: '127.0.0.2', port: b!.port, file: 'nope' }).catch((e) => e);
  t.equal(err.server.address, '127.0.0.2', 'errors too');
});

t.test(
  'a missing root: service runs, /readyz says why, requests get error 1, then it recovers',
  async (t) => {
    const { root: parent } = makeRoot(t, {});
    const root = path.join(parent, 'later');
    const h = await startTftp(t, { root });
    const ready = await request(`${h.gh.baseUrl}/readyz`);
    t.equal(ready.statusCode, 503);
    t.match(await ready.body.text(), /tftp: root .*later does not exist/);
    const err = await tftpGet({ host: '127.0.0.1', port: h.port, file: 'prologin.kpxe' }).catch((e) => e);
    t.equal(err.code, 1);
    t.equal(metric(await h.metrics(), 'gatehouse_tftp_requests_refused_total', { reason: 'no-root' }), 1);
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, 'prologin.kpxe'), 'ok', { mode: 0o644 });
    const ready2 = await request(`${h.gh.baseUrl}/readyz`);
    t.equal(ready2.statusCode, 200);
    await ready2.body.dump();
    t.equal(
      (await tftpGet({ host: '127.0.0.1', port: h.port, file: 'prologin.kpxe' })).data.toString(),
      'ok',
    );
  },
);

t.test('the cache serves a replaced file fresh (boot image updated during the contest)', async (t) => {
  const { root } = makeRoot(t, {});
  const file = path.join(root, 'prologin.kpxe');
  fs.writeFileSync(file, 'v1', { mode: 0o644 });
  const h = await startTftp(t, { root });
  t.equal((await tftpGet({ host: '127.0.0.1', port: h.port, file: 'prologin.kpxe' })).data.toString(), 'v1');
  fs.writeFileSync(`${file}.tmp`, 'v2', { mode: 0o644 });
  fs.renameSync(`${file}.tmp`, file);
  t.equal((await tftpGet({ host: '127.0.0.1', port: h.port, file: 'prologin.kpxe' })).data.toString(), 'v2');
  const m = await h.metrics();
  t.equal(metric(m, 'gatehouse_tftp_cache_lookups_total', { result: 'miss' }), 2);
});

t.test('a client that vanishes mid-transfer frees its state', async (t) => {
  const { root } = makeRoot(t, { 'big.bin': 200_000 });
  const h = await startTftp(t, { root, timeoutMs: 30, maxTimeoutMs: 60, retries: 3 });

  // 1. The client closes its socket: the kernel answers the next DATA with port-unreachable.
  const r = await tftpGet({ host: '127.0.0.1', port: h.port, file: 'big.bin', vanishAfterBlocks: 5 });
  t.equal(r.blocks, 5);
  await waitFor(() => h.server.activeTransfers === 0, 3000, 'active transfers back to 0');
  // 2. The client keeps its port open but never answers again (powered off behind a switch).
  const silent = await RawPeer.open(t);
  await silent.send(encodeRequest({ filename: 'big.bin', mode: 'octet', options: [] }), h.port);
  const first = await silent.next();
  t.match(decodePacket(first.msg), { ok: true, packet: { op: 'DATA', block: 1 } });
  await silent.send(encodeAck(1), first.rinfo.port);
  await waitFor(() => h.server.activeTransfers === 0, 3000, 'silent client given up');
  const m = await h.metrics();
  t.equal(metric(m, 'gatehouse_tftp_active_transfers'), 0);
  t.equal(metric(m, 'gatehouse_tftp_transfers_total', { result: 'client-gone' }), 1);
  t.equal(metric(m, 'gatehouse_tftp_transfers_total', { result: 'timeout' }), 1);
  t.ok(
    metric(m, 'gatehouse_tftp_retransmitted_blocks_total') >= 3,
    'the silent one was retried before giving up',
  );
  t.ok(silent.pending() >= 3, 'silent client saw the retransmissions');
  const line = h.gh.logs.find((l) => l.event === 'tftp.transfer' && l.result === 'timeout');
  t.match(line, { file: 'big.bin', bytes: 512 });
});

t.test('a duplicate RRQ (client retransmitted it) does not start a second transfer', async (t) => {
  const { root } = makeRoot(t, { 'boot.img': 10_000 });
  // A long first interval: a timer retransmission of DATA 1 must not be mistaken for a second transfer.
  const h = await startTftp(t, { root, timeoutMs: 10_000, maxTimeoutMs: 20_000 });
  const peer = await RawPeer.open(t);
  const rrq = encodeRequest({ filename: 'boot.img', mode: 'octet', options: [] });
  await peer.send(rrq, h.port);
  await peer.send(rrq, h.port);
  const first = await peer.next();
  t.match(decodePacket(first.msg), { ok: true, packet: { op: 'DATA', block: 1 } });
  await waitFor(
    async () => metric(await h.metrics(), 'gatehouse_tftp_duplicate_requests_total') === 1,
    2000,
    'duplicate counted',
  );
  t.equal(h.server.activeTransfers, 1);
  t.equal(peer.pending(), 0, 'only one DATA 1');
});

t.test(
  'malformed and truncated packets, on the listener and on a transfer port, never crash it',
  async (t) => {
    const { root, bytes } = makeRoot(t, { 'boot.img': 50_000 });
    const h = await startTftp(t, { root });
    // A transfer in progress whose own client will also send garbage on the transfer port.
    const peer = await RawPeer.open(t);
    await peer.send(encodeRequest({ filename: 'boot.img', mode: 'octet', options: [] }), h.port);
    const first = await peer.next();
    const tid = first.rinfo.port;

    const rnd = crypto.randomBytes(1 << 20);
    let off = 0;
    const garbage = (): Buffer => {
      const len = rnd[off++ % rnd.length]! % 64;
      const b = rnd.subarray(off % (rnd.length - 64), (off % (rnd.length - 64)) + len);
      off += len;
      return b;
    };
    const valid = encodeRequest({
      filename: 'boot.img',
      mode: 'octet',
      options: [{ name: 'blksize', value: '1468' }],
    });
    const flooders = await Promise.all([RawPeer.open(t), RawPeer.open(t), RawPeer.open(t)]);
    for (let i = 0; i < 6000; i++) {
      const f = flooders[i % 3]!;
      const kind = i % 4;
      if (kind === 0) void f.send(garbage(), h.port);
      else if (kind === 1)
        void f.send(valid.subarray(0, i % valid.length), h.port); // every truncation
      else if (kind === 2) void f.send(Buffer.concat([Buffer.from([0, 1 + (i % 7)]), garbage()]), h.port);
      else void peer.send(garbage(), tid); // from the transfer's own client, so the kernel delivers it
      if (i % 500 === 0) await new Promise((r) => setImmediate(r));
    }
    // The interrupted transfer goes on: acknowledge block by block until the end.
    let block = 1;
    let received = first.msg.subarray(4);
    const chunks = [received];
    while (received.length === 512) {
      await peer.send(encodeAck(block), tid);
      let d: ReturnType<typeof decodePacket>;
      for (;;) {
        d = decodePacket((await peer.next(3000)).msg);
        if (d.ok && d.packet.op === 'DATA' && d.packet.block === block + 1) break;
        // Our ACK may have been dropped in the flooded socket buffer: the server retransmits, we re-ACK.
        if (d.ok && d.packet.op === 'DATA' && d.packet.block === block)
          await peer.send(encodeAck(block), tid);
      }
      if (d.packet.op !== 'DATA') break;
      received = Buffer.from(d.packet.data);
      chunks.push(received);
      block++;
    }
    await peer.send(encodeAck(block), tid);
    t.ok(Buffer.concat(chunks).equals(bytes['boot.img']!), 'transfer under attack completed intact');
    await waitFor(
      () =>
        h.gh.logs.some(
          (l) => l.event === 'tftp.transfer' && l.client === `127.0.0.1:${peer.port}` && l.result === 'ok',
        ),
      2000,
      'log of the attacked transfer',
    );
    // And a fresh client is served normally.
    const fresh = await tftpGet({
      host: '127.0.0.1',
      port: h.port,
      file: 'boot.img',
      options: { blksize: 1468 },
    });
    t.ok(fresh.data.equals(bytes['boot.img']!));
    const m = await h.metrics();
    const malformed = m
      .split('\n')
      .filter((l) => l.startsWith('gatehouse_tftp_malformed_packets_total{'))
      .reduce((s, l) => s + Number(l.split(' ')[1]), 0);
    t.ok(malformed > 1000, `malformed packets counted (${malformed})`);
    t.ok(
      h.gh.logs.filter((l) => l.event === 'tftp.malformed').length <= 20,
      'malformed-packet logging is rate-limited',
    );
  },
);

t.test(
  'a flood of never-acknowledged RRQs cannot lock anyone out (limits evict unconfirmed transfers)',
  async (t) => {
    const { root, bytes } = makeRoot(t, { 'prologin.kpxe': 20_000 });
    // Long timeouts: without eviction, flooded slots would stay taken for the whole test.
    const h = await startTftp(t, {
      root,
      maxTransfers: 20,
      maxTransfersPerClient: 4,
      timeoutMs: 5000,
      maxTimeoutMs: 5000,
    });
    const rrq = encodeRequest({
      filename: 'prologin.kpxe',
      mode: 'octet',
      options: [{ name: 'tsize', value: '0' }],
    });

    // A legitimate transfer already running (confirmed: it acknowledged the OACK), then paused.
    const legit = await RawPeer.open(t, '127.0.0.1');
    await legit.send(rrq, h.port);
    const oack = await legit.next();
    t.match(decodePacket(oack.msg), { ok: true, packet: { op: 'OACK' } });
    await legit.send(encodeAck(0), oack.rinfo.port);
    await legit.next(); // DATA 1, not acknowledged yet

    // 300 silent requesters from 30 addresses (127.0.0.10-39), 10 ports each: sockets stay open.
    const flooders: RawPeer[] = [];
    for (let a = 10; a < 40; a++)
      for (let p = 0; p < 10; p++) flooders.push(await RawPeer.open(t, `127.0.0.${a}`));
    await Promise.all(flooders.map((f) => f.send(rrq, h.port)));
    await waitFor(
      async () => metric(await h.metrics(), 'gatehouse_tftp_requests_total', { op: 'rrq' }) === 301,
      5000,
      'all flood requests seen',
    );
    t.ok(h.server.activeTransfers <= 20, `total limit holds (${h.server.activeTransfers})`);

    // A newcomer is served at once, and so is one of the flooding addresses.
    const started = performance.now();
    const newcomer = await tftpGet({
      host: '127.0.0.1',
      port: h.port,
      file: 'prologin.kpxe',
      localAddress: '127.0.0.2',
      timeoutMs: 500,
    });
    t.ok(newcomer.data.equals(bytes['prologin.kpxe']!));
    // The flood's transfers would only time out after 5 s: being served well before proves eviction.
    t.ok(performance.now() - started < 4000, 'served without waiting for the flood to time out');
    const flooderAddress = await tftpGet({
      host: '127.0.0.1',
      port: h.port,
      file: 'prologin.kpxe',
      localAddress: '127.0.0.10',
      timeoutMs: 500,
    });
    t.ok(
      flooderAddress.data.equals(bytes['prologin.kpxe']!),
      'a flooding address evicts its own unconfirmed transfers',
    );

    // The confirmed transfer was never evicted: it resumes and completes.
    let block = 1;
    for (;;) {
      await legit.send(encodeAck(block), oack.rinfo.port);
      const d = decodePacket((await legit.next()).msg);
      if (!d.ok || d.packet.op !== 'DATA') {
        t.fail(`unexpected ${JSON.stringify(d)}`);
        break;
      }
      block = d.packet.block;
      if (d.packet.data.length < 512) {
        await legit.send(encodeAck(block), oack.rinfo.port);
        break;
      }
    }
    t.equal(block, Math.floor(20_000 / 512) + 1);
    // An evicted transfer running in a worker thread is counted when the worker reports its end.
    const evictedCount = async () =>
      metric(await h.metrics(), 'gatehouse_tftp_transfers_total', { result: 'evicted' });
    await waitFor(async () => (await evictedCount()) >= 280, 5000, 'evictions reported').catch(() => {});
    const m = await h.metrics();
    const evicted = metric(m, 'gatehouse_tftp_transfers_total', { result: 'evicted' });
    const busy = metric(m, 'gatehouse_tftp_requests_refused_total', { reason: 'busy' });
    t.equal(busy, 0, 'nobody was turned away: unconfirmed slots, even half set up, give way');
    t.ok(evicted >= 280, `flood slots were recycled (${evicted})`);
    t.equal(metric(m, 'gatehouse_tftp_transfers_total', { result: 'ok' }) >= 2, true);
    t.ok(
      h.gh.logs.filter((l) => l.event === 'tftp.transfer' && l.result === 'evicted').length <= 20,
      'evictions are logged at a bounded rate',
    );
  },
);

t.test('per-client limit: one address cannot take more than its share', async (t) => {
  const { root } = makeRoot(t, { 'prologin.kpxe': 5000 });
  const h = await startTftp(t, { root, maxTransfersPerClient: 3, timeoutMs: 5000, maxTimeoutMs: 5000 });
  const peers = await Promise.all(Array.from({ length: 50 }, () => RawPeer.open(t, '127.0.0.3')));
  const rrq = encodeRequest({ filename: 'prologin.kpxe', mode: 'octet', options: [] });
  for (const p of peers) await p.send(rrq, h.port);
  await waitFor(
    async () => metric(await h.metrics(), 'gatehouse_tftp_requests_total', { op: 'rrq' }) === 50,
    5000,
    'requests seen',
  );
  await waitFor(() => h.server.activeTransfers === 3, 2000, 'exactly 3 transfers for 127.0.0.3');
  t.equal(h.server.activeTransfers, 3);
});

t.test('reload applies a new root and limits without restarting the socket', async (t) => {
  const a = makeRoot(t, { 'f.bin': 100 });
  const b = makeRoot(t, { 'f.bin': 200 });
  const h = await startTftp(t, { root: a.root });
  t.equal((await tftpGet({ host: '127.0.0.1', port: h.port, file: 'f.bin' })).bytes, 100);
  await h.gh.app.reload({ ...h.gh.config, tftp: { ...h.gh.config.tftp, root: b.root, maxBlksize: 600 } });
  const got = await tftpGet({ host: '127.0.0.1', port: h.port, file: 'f.bin', options: { blksize: 1468 } });
  t.equal(got.bytes, 200);
  t.same(got.oack, { blksize: '600' });
  t.equal(h.server.addresses()[0]!.port, h.port);
});

t.test('a file bigger than the cache is streamed from disk, windowed and lock-step', async (t) => {
  const { root, bytes } = makeRoot(t, { 'arch.kpxe': 300_000 });
  const h = await startTftp(t, { root, cacheBytes: 10_000 });
  const windowed = await tftpGet({
    host: '127.0.0.1',
    port: h.port,
    file: 'arch.kpxe',
    options: { blksize: 1468, windowsize: 8 },
  });
  t.ok(windowed.data.equals(bytes['arch.kpxe']!));
  const lockstep = await tftpGet({ host: '127.0.0.1', port: h.port, file: 'arch.kpxe' });
  t.ok(lockstep.data.equals(bytes['arch.kpxe']!));
  const m = await h.metrics();
  t.equal(metric(m, 'gatehouse_tftp_cache_lookups_total', { result: 'bypass' }), 2);
  t.equal(metric(m, 'gatehouse_tftp_cache_bytes'), 0, 'nothing cached');
  const vanished = await tftpGet({
    host: '127.0.0.1',
    port: h.port,
    file: 'arch.kpxe',
    vanishAfterBlocks: 3,
  });
  t.equal(vanished.blocks, 3);
  await waitFor(() => h.server.activeTransfers === 0, 5000, 'disk-backed transfer freed');
});

t.test('IPv6 listen address', { skip: hasIpv6Loopback() ? false : 'no ::1 on this host' }, async (t) => {
  const { root, bytes } = makeRoot(t, { 'boot.img': 5000 });
  const h = await startTftp(t, { root, listen: ['[::1]:0'] });
  const got = await tftpGet({ host: '::1', port: h.port, file: 'boot.img', options: { blksize: 1428 } });
  t.ok(got.data.equals(bytes['boot.img']!));
  t.equal(got.server.address, '::1');
});

function hasIpv6Loopback(): boolean {
  return Object.values(os.networkInterfaces()).some((list) =>
    list?.some((a) => a.family === 'IPv6' && a.address === '::1'),
  );
}
