/**
 * The runtime's ceiling: a bare Node.js UDP responder that answers each datagram with its own
 * bytes and the QR bit set (dnsperf counts that as an answer). No parsing, no lookup.
 * With WORKERS > 1 it forks that many cluster workers sharing the socket, as Gatehouse does.
 * With `fast` it receives and sends through the same handle-level path Gatehouse uses
 * (src/net/udp-fast-path.ts) instead of the public `dgram` API: the ceiling of that path.
 *
 * usage: echo-responder.ts PORT [WORKERS] [fast]
 */
import cluster from 'node:cluster';
import dgram from 'node:dgram';
import { udpFastPath } from '../../src/net/udp-fast-path.js';

const port = Number(process.argv[2]);
const workers = Number(process.argv[3] ?? 1);
const useFastPath = process.argv[4] === 'fast';

if (cluster.isPrimary && workers > 1) {
  let ready = 0;
  for (let i = 0; i < workers; i++) {
    cluster.fork().on('message', () => {
      if (++ready === workers) {
        const pids = [process.pid, ...Object.values(cluster.workers ?? {}).map((w) => w!.process.pid!)];
        process.stdout.write(`${JSON.stringify({ port, pids })}\n`);
      }
    });
  }
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    process.exit(0);
  });
} else {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    const out = Buffer.allocUnsafe(msg.length);
    msg.copy(out);
    out[2] = out[2]! | 0x80;
    socket.send(out, rinfo.port, rinfo.address);
  });
  socket.bind({ port, address: '127.0.0.1', exclusive: workers <= 1 }, () => {
    socket.setRecvBufferSize(4 * 1024 * 1024);
    const fast = useFastPath ? udpFastPath(socket) : undefined;
    if (useFastPath && !fast) throw new Error('this Node.js has no handle-level UDP path');
    fast?.onDatagram((msg, ip, rport) => {
      const out = Buffer.allocUnsafe(msg.length);
      msg.copy(out);
      out[2] = out[2]! | 0x80;
      fast.send(out, rport, ip);
    });
    if (cluster.isWorker) process.send?.('ready');
    else process.stdout.write(`${JSON.stringify({ port, pids: [process.pid] })}\n`);
  });
  process.on('SIGTERM', () => process.exit(0));
}
