/**
 * DNS over TCP (RFC 7766) against hostile and sloppy clients: pipelining, arbitrary chunking,
 * idle and slow-drip connections, per-client and global connection limits that evict the oldest
 * idle connection (RFC 7766 §6.2.3), zero-length frames
 * and clients that never read.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import t from 'tap';
import {
  GW,
  decodePacket,
  dig,
  frame,
  kdig,
  machine,
  query,
  startDns,
  tcpExchange,
  waitFor,
} from './helpers.js';

const tcp = {
  idleTimeoutMs: 300,
  maxConnections: 6,
  maxConnectionsPerClient: 2,
  maxInFlightPerConnection: 64,
};

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

function closed(s: net.Socket): Promise<number> {
  const start = performance.now();
  return new Promise((resolve) => {
    if (s.destroyed) return resolve(0);
    s.once('close', () => resolve(performance.now() - start));
  });
}

t.test('pipelined queries in one write all get answers, matched by ID', async (t) => {
  const fx = await startDns(t, { dns: { listen: ['127.0.0.1:0'], tcp } });
  await fx.put(GW, machine('pas-r01p01', '192.168.0.1'));
  const names = ['mdb.prolo', 'pas-r01p01.prolo', 'nosuch.prolo', '1.0.168.192.in-addr.arpa'];
  const replies = await tcpExchange(
    fx.port,
    names.map((n, i) => query(n, n.endsWith('arpa') ? 'PTR' : 'A', { id: 100 + i })),
  );
  const byId = new Map(replies.map((r) => [r.readUInt16BE(0), decodePacket(r)]));
  t.equal(byId.get(100)?.answers[0]?.data, '192.168.1.254');
  t.equal(byId.get(101)?.answers[0]?.data, '192.168.0.1');
  t.equal(byId.get(102)?.rcode, 'NXDOMAIN');
  t.equal(byId.get(103)?.answers[0]?.data, 'pas-r01p01.prolo');
});

t.test('frames split at every byte are reassembled', async (t) => {
  const fx = await startDns(t, { dns: { listen: ['127.0.0.1:0'], tcp } });
  await fx.put(GW);
  const s = await connect(fx.port);
  const bytes = Buffer.concat([
    frame(query('mdb.prolo', 'A', { id: 1 })),
    frame(query('ns.prolo', 'A', { id: 2 })),
  ]);
  const got: Buffer[] = [];
  let buf = Buffer.alloc(0);
  const done = new Promise<void>((resolve) =>
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        got.push(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
      if (got.length === 2) resolve();
    }),
  );
  for (const b of bytes) {
    s.write(Buffer.from([b]));
    await new Promise((r) => setImmediate(r));
  }
  await done;
  s.destroy();
  t.same(got.map((g) => g.readUInt16BE(0)).sort(), [1, 2]);
});

t.test('idle connections are closed; partial bytes do not keep them open', async (t) => {
  const fx = await startDns(t, { dns: { listen: ['127.0.0.1:0'], tcp } });
  const idle = await connect(fx.port);
  const idleMs = await closed(idle);
  t.ok(idleMs >= 250 && idleMs < 3000, `silent connection closed after ${idleMs.toFixed(0)} ms`);

  const drip = await connect(fx.port);
  const dripClosed = closed(drip);
  const q = frame(query('mdb.prolo', 'A'));
  let sent = 0;
  const timer = setInterval(() => {
    if (!drip.destroyed && sent < q.length - 1) drip.write(q.subarray(sent, ++sent));
  }, 50);
  const dripMs = await dripClosed;
  clearInterval(timer);
  t.ok(
    dripMs < 3000 && sent < q.length,
    `slow drip cut after ${dripMs.toFixed(0)} ms, ${sent} of ${q.length} bytes sent`,
  );

  const busy = await connect(fx.port);
  const answers: number[] = [];
  busy.on('data', () => answers.push(1));
  for (let i = 0; i < 4; i++) {
    busy.write(frame(query('mdb.prolo', 'A', { id: i })));
    await new Promise((r) => setTimeout(r, 150));
  }
  t.notOk(busy.destroyed, 'a connection sending complete queries stays open past the idle timeout');
  t.ok(answers.length >= 1);
  busy.destroy();
});

/** Connects from `src` (a loopback address) and resolves once the connection is up. */
function connectFrom(port: number, src: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress: src }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves true when `s` is closed by the server within `ms` (false if it stays open). */
async function closedWithin(s: net.Socket, ms: number): Promise<boolean> {
  const r = await Promise.race([closed(s), new Promise<number>((res) => setTimeout(() => res(-1), ms))]);
  return r >= 0;
}

t.test('at the per-client and global limits the oldest idle connection makes room', async (t) => {
  const fx = await startDns(t, { dns: { listen: ['127.0.0.1:0'], tcp: { ...tcp, idleTimeoutMs: 5000 } } });
  await fx.put(GW);
  const a = await connect(fx.port);
  const b = await connect(fx.port);
  // b has answered a query since a: b became idle after a did, so a is the oldest idle.
  const bAnswered = new Promise((r) => b.once('data', r));
  b.write(frame(query('ns.prolo', 'A', { id: 3 })));
  await bAnswered;
  const c = await connect(fx.port);
  t.ok(await closedWithin(a, 1000), 'a third connection from the same client closes its oldest idle one');
  t.notOk(b.destroyed || c.destroyed, 'the newer two stay');
  const [r] = await tcpExchange(fx.port, [query('ns.prolo', 'A', { id: 9 })]);
  t.equal(r!.readUInt16BE(0), 9, 'a fresh query from the same client is answered at once');
  t.ok(await waitFor(() => fx.dns.tcpConnectionCount <= 2), 'never more than the per-client limit held');
  b.destroy();
  c.destroy();
  t.ok(await waitFor(() => fx.dns.tcpConnectionCount === 0), 'server released every slot');

  // Global limit (6): 127.0.0.2 holds 2, 127.0.0.3 and .4 one each, 127.0.0.5 two: full.
  const held: [string, net.Socket][] = [];
  for (const src of ['127.0.0.2', '127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.5']) {
    held.push([src, await connectFrom(fx.port, src)]);
    await new Promise((r) => setTimeout(r, 20));
  }
  const extra = await connectFrom(fx.port, '127.0.0.6');
  t.ok(await closedWithin(held[0]![1], 1000), 'the oldest idle connection of the biggest holder is closed');
  t.notOk(extra.destroyed, 'the connection over the global limit is kept');
  t.ok(
    held.slice(1).every(([, s]) => !s.destroyed),
    'nobody else loses a connection',
  );
  for (const [, s] of held) s.destroy();
  extra.destroy();
  t.ok(await waitFor(() => fx.dns.tcpConnectionCount === 0), 'server released every slot');

  const z = await connect(fx.port);
  z.write(Buffer.from([0, 0]));
  t.ok((await closed(z)) < 1000, 'zero-length frame closes the connection');
  await new Promise((r) => setTimeout(r, 1100));
  const m = await fx.app.metrics.text();
  t.match(m, /gatehouse_dns_tcp_rejected_total\{reason="idle_evicted_per_client"\} [1-9]/);
  t.match(m, /gatehouse_dns_tcp_rejected_total\{reason="idle_evicted_global"\} [1-9]/);
  t.match(m, /gatehouse_dns_tcp_rejected_total\{reason="zero_length"\} 1/);
});

t.test('connections with a query in flight are never evicted; all busy refuses the newcomer', async (t) => {
  // An upstream that never answers keeps forwarded queries in flight until the forwarder gives up.
  const blackHole = dgram.createSocket('udp4');
  await new Promise<void>((r) => blackHole.bind(0, '127.0.0.1', () => r()));
  t.teardown(() => blackHole.close());
  const fx = await startDns(t, {
    network: { trusted: ['127.0.0.1/32'] },
    dns: {
      listen: ['127.0.0.1:0'],
      upstreams: [`127.0.0.1:${blackHole.address().port}`],
      forwarder: { timeoutMs: 2500 },
      tcp: { ...tcp, maxConnectionsPerClient: 4, idleTimeoutMs: 10_000 },
    },
  });
  const busy: net.Socket[] = [];
  const answers: Promise<Buffer>[] = [];
  for (let i = 0; i < 2; i++) {
    const s = await connect(fx.port);
    answers.push(new Promise((r) => s.once('data', r)));
    s.write(frame(query(`www${i}.example.test`, 'A', { id: 50 + i })));
    busy.push(s);
  }
  const idle = [await connect(fx.port), await connect(fx.port)];
  await new Promise((r) => setTimeout(r, 100));
  const fresh: net.Socket[] = [];
  for (let i = 0; i < 3; i++) {
    fresh.push(await connect(fx.port));
    await new Promise((r) => setTimeout(r, 20));
  }
  t.ok(await closedWithin(idle[0]!, 1000), 'first idle connection evicted');
  t.ok(await closedWithin(idle[1]!, 1000), 'second idle connection evicted');
  t.ok(await closedWithin(fresh[0]!, 1000), 'then the oldest of the new (idle) ones');
  t.ok(
    busy.every((s) => !s.destroyed),
    'connections with a query in flight stay',
  );
  t.ok(!fresh[1]!.destroyed && !fresh[2]!.destroyed, 'the newest connections stay');
  // Make all four busy: a fifth connection has nothing to evict and is refused.
  for (const [i, s] of fresh.slice(1).entries()) {
    answers.push(new Promise((r) => s.once('data', r)));
    s.write(frame(query(`www${i + 2}.example.test`, 'A', { id: 52 + i })));
  }
  await new Promise((r) => setTimeout(r, 100));
  const refused = await connect(fx.port);
  t.ok(await closedWithin(refused, 1000), 'all four busy: the newcomer is refused');
  t.ok(
    [...busy, ...fresh.slice(1)].every((s) => !s.destroyed),
    'and no busy connection was closed',
  );
  // Bounded: on a server that closed a busy connection, its answer never comes.
  const got = await Promise.all(
    answers.map((a) =>
      Promise.race([a, new Promise<Buffer>((r) => setTimeout(() => r(Buffer.alloc(4)), 6000))]),
    ),
  );
  t.same(
    got.map((b) => b.readUInt16BE(2)).sort(),
    [50, 51, 52, 53],
    'every in-flight query got its (SERVFAIL) answer on its own connection',
  );
  for (const s of [...busy, ...fresh]) s.destroy();
  await new Promise((r) => setTimeout(r, 1100));
  t.match(await fx.app.metrics.text(), /gatehouse_dns_tcp_rejected_total\{reason="per_client"\} 1/);
});

t.test('500 idle connections from one address do not deny a fresh dig +tcp from it (defaults)', async (t) => {
  const fx = await startDns(t, { dns: { listen: ['127.0.0.1:0'] } });
  await fx.put(GW);
  const hog: net.Socket[] = [];
  t.teardown(() => {
    for (const s of hog) s.destroy();
  });
  for (let i = 0; i < 500; i++) {
    const s = net.connect(fx.port, '127.0.0.1');
    s.on('error', () => {});
    hog.push(s);
    await new Promise<void>((r) => {
      s.once('connect', () => r());
      s.once('close', () => r());
    });
  }
  // Let the server accept (and account for) every connection before the real client asks.
  await new Promise((r) => setTimeout(r, 300));
  for (const tool of ['dig', 'kdig'] as const) {
    const start = performance.now();
    const out =
      tool === 'dig' ? await dig(fx.port, '+tcp', 'mdb.prolo') : await kdig(fx.port, '+tcp', 'mdb.prolo');
    const ms = performance.now() - start;
    t.match(out, /192\.168\.1\.254/, `${tool} +tcp answered`);
    t.ok(ms < 1000, `${tool} +tcp answered in ${ms.toFixed(0)} ms (< 1 s)`);
  }
});

t.test('garbage inside a frame: FORMERR when a header exists, else the stream is closed', async (t) => {
  const fx = await startDns(t, { dns: { listen: ['127.0.0.1:0'], tcp } });
  const [formerr] = await tcpExchange(fx.port, [Buffer.from('abcd0100000100000000000003616263c00c', 'hex')]);
  t.equal(formerr!.readUInt16BE(0), 0xabcd);
  t.equal(formerr![3]! & 0x0f, 1, 'FORMERR');
  const s = await connect(fx.port);
  s.write(frame(Buffer.from([1, 2, 3])));
  t.ok((await closed(s)) < 1000, 'a message without a header closes the stream');
});

t.test('a client that pipelines but never reads is disconnected, others unaffected', async (t) => {
  const fx = await startDns(t, { dns: { listen: ['127.0.0.1:0'], tcp: { ...tcp, idleTimeoutMs: 10_000 } } });
  await fx.put(
    ...Array.from({ length: 100 }, (_, i) => machine(`h${i}`, `192.168.0.${i + 1}`, { aliases: 'big' })),
  );
  const s = await connect(fx.port);
  s.pause();
  const gone = closed(s);
  const q = frame(query('big.prolo', 'A'));
  const burst = Buffer.concat(Array.from({ length: 200 }, () => q));
  for (let i = 0; i < 40 && !s.destroyed; i++) {
    s.write(burst);
    await new Promise((r) => setTimeout(r, 20));
  }
  s.resume();
  s.on('data', () => {});
  const ms = await Promise.race([gone, new Promise<number>((r) => setTimeout(() => r(-1), 5000))]);
  t.ok(ms >= 0, 'the non-reading client was cut off');
  const [ok] = await tcpExchange(fx.port, [query('h1.prolo', 'A', { id: 5 })]);
  t.equal(decodePacket(ok!).answers[0]?.data, '192.168.0.2', 'others still served');
});

t.test('a frame dripped byte by byte costs its bytes, not a copy per byte received', async (t) => {
  const fx = await startDns(t, { dns: { listen: ['127.0.0.1:0'], tcp: { ...tcp, idleTimeoutMs: 30_000 } } });
  await fx.put(GW);
  // A query padded to 4 KiB with an EDNS option, sent one byte per segment.
  const q = query('mdb.prolo', 'A', { id: 7 });
  const padded = Buffer.concat([q.subarray(0, 10), Buffer.from([0, 1]), q.subarray(12)]);
  const opt = Buffer.alloc(11 + 4 + 4096);
  opt.writeUInt16BE(41, 1);
  opt.writeUInt16BE(1232, 3);
  opt.writeUInt16BE(4 + 4096, 9);
  opt.writeUInt16BE(12, 11); // option 12: padding (RFC 7830)
  opt.writeUInt16BE(4096, 13);
  const bytes = frame(Buffer.concat([padded, opt]));
  let copied = 0;
  const concat = Buffer.concat;
  Buffer.concat = ((list: readonly Uint8Array[], total?: number) => {
    const out = concat(list, total);
    copied += out.length;
    return out;
  }) as typeof Buffer.concat;
  t.teardown(() => {
    Buffer.concat = concat;
  });
  const s = await connect(fx.port);
  s.setNoDelay(true);
  const answered = new Promise<Buffer>((resolve) => s.once('data', resolve));
  for (const b of bytes) {
    s.write(Buffer.from([b]));
    await new Promise((r) => setImmediate(r));
  }
  const reply = await answered;
  Buffer.concat = concat;
  s.destroy();
  t.equal(reply.readUInt16BE(2), 7, 'answered');
  t.ok(copied < 4 * bytes.length, `${copied} bytes copied to frame ${bytes.length} bytes`);
});
