import dgram from 'node:dgram';
import { once } from 'node:events';
import t from 'tap';
import { stopReceiving, udpFastPath } from '../../src/net/udp-fast-path.js';

async function boundSocket(t: { teardown(fn: () => unknown): void }): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  t.teardown(() => new Promise<void>((r) => s.close(() => r())));
  return s;
}

t.test('datagrams round-trip through the handle: receive with sender address, send synchronously', async (t) => {
  const server = await boundSocket(t);
  const fast = udpFastPath(server);
  t.ok(fast, 'Node.js 20 exposes the handle and SendWrap');
  if (!fast) return;
  const seen: string[] = [];
  fast.onDatagram((msg, ip, port) => {
    seen.push(`${msg.toString()} from ${ip}`);
    const out = Buffer.from(`re:${msg.toString()}`);
    t.equal(fast.send(out, port, ip), true, 'loopback send completes before returning');
  });
  const client = await boundSocket(t);
  const replies: string[] = [];
  const got = new Promise<void>((resolve) =>
    client.on('message', (m) => {
      replies.push(m.toString());
      if (replies.length === 3) resolve();
    }),
  );
  for (const word of ['a', 'bb', 'ccc']) client.send(word, server.address().port, '127.0.0.1');
  await got;
  t.same(replies.sort(), ['re:a', 're:bb', 're:ccc']);
  t.same(seen.sort(), ['a from 127.0.0.1', 'bb from 127.0.0.1', 'ccc from 127.0.0.1']);
  t.equal(fast.errors, 0);
});

t.test('a send error is counted, not thrown', async (t) => {
  const s = await boundSocket(t);
  const fast = udpFastPath(s);
  if (!fast) return t.fail('no fast path');
  t.equal(fast.send(Buffer.from('x'), 53, 'not-an-ip'), true);
  t.equal(fast.errors, 1);
});

t.test('GATEHOUSE_DGRAM_ONLY=1 keeps plain dgram', async (t) => {
  const s = await boundSocket(t);
  process.env.GATEHOUSE_DGRAM_ONLY = '1';
  t.teardown(() => {
    delete process.env.GATEHOUSE_DGRAM_ONLY;
  });
  t.equal(udpFastPath(s), undefined);
});

t.test('a connected socket sends gathered parts; an explicit destination is refused and counted', async (t) => {
  const peer = await boundSocket(t);
  const s = await boundSocket(t);
  s.connect(peer.address().port, '127.0.0.1');
  await once(s, 'connect');
  const fast = udpFastPath(s);
  if (!fast) return t.fail('no fast path');
  const got = once(peer, 'message');
  const ret = fast.sendConnected([Buffer.from('head:'), Buffer.from('body')]);
  t.equal(ret, 10, 'bytes + 1: taken synchronously');
  t.equal(String((await got)[0]), 'head:body', 'one datagram, both parts');
  t.equal(fast.send(Buffer.from('x'), peer.address().port, '127.0.0.1'), true);
  t.equal(fast.errors, 1, 'EISCONN counted');
});

t.test('stopReceiving: a port-holding socket no longer delivers datagrams to JS', async (t) => {
  const holder = await boundSocket(t);
  const control = await boundSocket(t);
  let held = 0;
  holder.on('message', () => held++);
  t.equal(stopReceiving(holder), true);
  const sender = await boundSocket(t);
  const seen = once(control, 'message');
  sender.send('x', holder.address().port, '127.0.0.1');
  sender.send('y', control.address().port, '127.0.0.1');
  await seen;
  await new Promise((r) => setTimeout(r, 50));
  t.equal(held, 0, 'the holder read nothing');
});
