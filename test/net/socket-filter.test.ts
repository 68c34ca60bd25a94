/**
 * The classic BPF filter of the DHCP raw socket (src/net/socket-filter.ts), on a real raw socket
 * (needs root): the address lookup finds the live buffer, the kernel holds exactly our program,
 * and only datagrams to the chosen UDP port are queued.
 */
import dgram from 'node:dgram';
import raw, { type RawSocket } from 'raw-socket';
import t from 'tap';
import {
  addressOf,
  attachSocketFilter,
  encodeProgram,
  udpDstPortProgram,
} from '../../src/net/socket-filter.js';
import { needsRoot } from '../helpers/netns.js';
import { freePort } from '../helpers/ports.js';

t.test('the program encodes as struct sock_filter, little-endian', async (t) => {
  const code = encodeProgram(udpDstPortProgram(67));
  t.equal(code.length, 7 * 8);
  t.equal(code.readUInt16LE(4 * 8), 0x15, 'JEQ');
  t.equal(code.readUInt32LE(4 * 8 + 4), 67, 'against the port');
});

t.test('addressOf finds the live buffer in /proc/self/mem', async (t) => {
  const buf = Buffer.allocUnsafeSlow(64);
  const at = addressOf(buf);
  buf.write('gatehouse', 40);
  const fs = await import('node:fs');
  const fd = fs.openSync('/proc/self/mem', 'r');
  const back = Buffer.alloc(64);
  fs.readSync(fd, back, 0, 64, at);
  fs.closeSync(fd);
  t.ok(back.equals(buf), 'the bytes at that address follow the buffer');
});

/** Datagrams to each port, then the destination ports the raw socket queued meanwhile. */
async function seen(socket: RawSocket, ports: number[]): Promise<Set<number>> {
  const got = new Set<number>();
  const want = new Set(ports);
  socket.on('message', (b: Buffer) => {
    const ihl = (b[0]! & 15) * 4;
    // Only our own traffic: other tests share this loopback.
    const port = b.readUInt16BE(ihl + 2);
    if (want.has(port) && b.subarray(ihl + 8).toString() === 'socket-filter-test') got.add(port);
  });
  const sender = dgram.createSocket('udp4');
  for (const p of ports) await new Promise((r) => sender.send('socket-filter-test', p, '127.0.0.1', r));
  await new Promise((r) => setTimeout(r, 300));
  sender.close();
  return got;
}

t.test('attached, only the chosen destination port is queued', { skip: needsRoot }, async (t) => {
  const [keep, other] = [await freePort(), await freePort()];
  const plain = raw.createSocket({ protocol: raw.Protocol.UDP });
  const filtered = raw.createSocket({ protocol: raw.Protocol.UDP });
  t.teardown(() => {
    plain.close();
    filtered.close();
  });
  attachSocketFilter(filtered, udpDstPortProgram(keep));
  const [a, b] = await Promise.all([seen(plain, [keep, other]), seen(filtered, [keep, other])]);
  t.same([...a].sort(), [keep, other].sort(), 'without the filter a raw UDP socket gets every port');
  t.same([...b], [keep], 'with it, only the chosen one');
});
