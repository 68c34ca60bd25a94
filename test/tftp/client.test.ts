import dgram from 'node:dgram';
import { once } from 'node:events';
import t from 'tap';
import { tftpGet } from '../../src/tftp/client.js';
import { decodePacket } from '../../src/tftp/codec.js';

/** A scripted one-block server: DATA 1 (short, so final), then DATA 1 again as if ACK 1 were lost. */
async function lossyFinalAckServer(t: { teardown(fn: () => unknown): void }) {
  const s = dgram.createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  t.teardown(() => new Promise<void>((r) => s.close(() => r())));
  const acks: number[] = [];
  const data1 = Buffer.from([0, 3, 0, 1, 0x68, 0x69]);
  s.on('message', (msg, rinfo) => {
    const d = decodePacket(msg);
    if (!d.ok) return;
    if (d.packet.op === 'RRQ') s.send(data1, rinfo.port, rinfo.address);
    if (d.packet.op === 'ACK') {
      acks.push(d.packet.block);
      if (acks.length === 1) s.send(data1, rinfo.port, rinfo.address);
    }
  });
  return { port: s.address().port, acks };
}

t.test('after the final ACK the client dallies: a repeated final block is acknowledged again (RFC 1350 §6)', async (t) => {
  const server = await lossyFinalAckServer(t);
  const r = await tftpGet({ host: '127.0.0.1', port: server.port, file: 'x', timeoutMs: 200 });
  t.equal(r.data.toString(), 'hi', 'result delivered at the final block');
  const deadline = Date.now() + 2000;
  while (server.acks.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  t.same(server.acks, [1, 1], 'the repeated final block got a second ACK');
});

t.test('dallyMs 0 closes at once: the repeat goes unanswered', async (t) => {
  const server = await lossyFinalAckServer(t);
  await tftpGet({ host: '127.0.0.1', port: server.port, file: 'x', timeoutMs: 200, dallyMs: 0 });
  await new Promise((r) => setTimeout(r, 300));
  t.same(server.acks, [1]);
});
