/**
 * DNS over TCP (RFC 7766) against hostile and sloppy clients: pipelining, arbitrary chunking,
 * idle and slow-drip connections, per-client and global connection limits, zero-length frames
 * and clients that never read.
 */
import net from 'node:net';
import t from 'tap';
import { GW, decodePacket, frame, machine, query, startDns, tcpExchange, waitFor } from './helpers.js';

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

t.test('connection limits per client and overall; zero-length frames close the stream', async (t) => {
  const fx = await startDns(t, { dns: { listen: ['127.0.0.1:0'], tcp: { ...tcp, idleTimeoutMs: 5000 } } });
  const a = await connect(fx.port);
  const b = await connect(fx.port);
  const c = await connect(fx.port);
  const cMs = await closed(c);
  t.ok(cMs < 1000, 'third connection from the same client refused at once');
  t.notOk(a.destroyed || b.destroyed, 'the first two stay');
  a.destroy();
  await closed(a);
  t.ok(await waitFor(() => fx.dns.tcpConnectionCount === 1), 'server saw the close');
  const replies = await tcpExchange(fx.port, [query('ns.prolo', 'A', { id: 9 })]);
  t.equal(replies[0]!.readUInt16BE(0), 9, 'a slot freed by a close is usable again');
  b.destroy();

  // Overall limit (6): other loopback sources each use their 2 slots.
  const sockets: net.Socket[] = [];
  for (const src of ['127.0.0.2', '127.0.0.3', '127.0.0.4']) {
    for (let i = 0; i < 2; i++) {
      sockets.push(
        await new Promise<net.Socket>((resolve) => {
          const s = net.connect({ port: fx.port, host: '127.0.0.1', localAddress: src }, () => resolve(s));
        }),
      );
    }
  }
  const extra = await new Promise<net.Socket>((resolve) => {
    const s = net.connect({ port: fx.port, host: '127.0.0.1', localAddress: '127.0.0.5' }, () => resolve(s));
  });
  t.ok((await closed(extra)) < 1000, 'connection over the global limit refused');
  for (const s of sockets) s.destroy();
  await Promise.all(sockets.map(closed));
  // The server sees the closes a moment later (bounded wait on its own count).
  t.ok(await waitFor(() => fx.dns.tcpConnectionCount === 0), 'server released every slot');

  const z = await connect(fx.port);
  z.write(Buffer.from([0, 0]));
  t.ok((await closed(z)) < 1000, 'zero-length frame closes the connection');
  await new Promise((r) => setTimeout(r, 1100));
  const m = await fx.app.metrics.text();
  t.match(m, /gatehouse_dns_tcp_rejected_total\{reason="per_client"\} [1-9]/);
  t.match(m, /gatehouse_dns_tcp_rejected_total\{reason="max_connections"\} [1-9]/);
  t.match(m, /gatehouse_dns_tcp_rejected_total\{reason="zero_length"\} 1/);
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
