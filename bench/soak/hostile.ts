/**
 * The hostile share of the soak, sent from 127.0.0.66 (another "machine", so per-client limits
 * of the normal traffic are not the ones it exhausts): malformed datagrams of every UDP
 * protocol, idle and dripping TCP DNS connections, slow chunked and aborted HTTP bodies, junk
 * HTTP, badly signed presence requests. None of it needs an answer; it must not cost the others.
 */
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import * as dnsPacket from 'dns-packet';
import { clientBytes } from '../../test/dhcp/helpers.js';
import { machineName, type SoakPorts } from './server.js';
import { type Registry, every } from './stats.js';

export const HOSTILE_ADDRESS = '127.0.0.66';

const rand = (n: number) => crypto.randomBytes(n);
const pick = (n: number) => Math.floor(Math.random() * n);

function mutate(b: Buffer): Buffer {
  const out = Buffer.from(b);
  for (let i = 0; i < 1 + pick(4); i++) out[pick(out.length)] = pick(256);
  return pick(3) === 0 ? out.subarray(0, pick(out.length)) : out;
}

function udpJunk(
  port: number,
  perSecond: number,
  k: ReturnType<Registry['kind']>,
  make: () => Buffer,
): () => void {
  const s = dgram.createSocket('udp4');
  s.on('message', () => {}); // answers (ERRORs, FORMERRs) are welcome and ignored
  s.bind(0, HOSTILE_ADDRESS);
  const stop = every(1000 / perSecond, () => {
    s.send(make(), port, '127.0.0.1', (e) => (e ? k.fail(e.message) : k.ok(0)));
  });
  return () => {
    stop();
    s.close();
  };
}

function dnsJunk(o: { ports: SoakPorts; stats: Registry }): () => void {
  const valid = () =>
    dnsPacket.encode({
      type: 'query',
      id: pick(65536),
      questions: [{ type: 'A', name: `${machineName(pick(1000))}.prolo` }],
    });
  return udpJunk(o.ports.dns, 20, o.stats.kind('hostile: dns datagrams', true), () =>
    pick(2) === 0 ? rand(pick(600)) : mutate(valid()),
  );
}

function tftpJunk(o: { ports: SoakPorts; stats: Registry }): () => void {
  const shapes = [
    () => rand(pick(200)),
    () => Buffer.from('\x00\x01pxelinux.0\x00octet'), // mode without its NUL
    () => Buffer.from('\x00\x01../../etc/passwd\x00octet\x00'),
    () => Buffer.from('\x00\x02upload.bin\x00octet\x00'), // WRQ
    () => Buffer.from('\x00\x01pxelinux.0\x00octet\x00blksize\x008\x00blksize\x00512\x00'),
    () =>
      Buffer.concat([Buffer.from('\x00\x01f\x00'), Buffer.from([0xff, 0xfe, 0]), Buffer.from('octet\x00')]),
    () => Buffer.from('\x00\x04\x00\x01'), // a stray ACK
  ];
  return udpJunk(o.ports.tftp, 10, o.stats.kind('hostile: tftp datagrams', true), () =>
    shapes[pick(shapes.length)]!(),
  );
}

function dhcpJunk(o: { ports: SoakPorts; stats: Registry }): () => void {
  const valid = () =>
    clientBytes({
      type: 'DISCOVER',
      mac: `02:66:00:00:${pick(256).toString(16)}:01`,
      xid: pick(1e9),
      giaddr: '127.0.0.1',
    });
  return udpJunk(o.ports.dhcp, 10, o.stats.kind('hostile: dhcp datagrams', true), () =>
    pick(2) === 0 ? rand(pick(600)) : mutate(valid()),
  );
}

/** Keeps `count` TCP connections to DNS open and silent (or dripping a byte now and then). */
function dnsIdle(o: { ports: SoakPorts; stats: Registry }, count: number): () => void {
  const k = o.stats.kind('hostile: idle/dripping dns tcp connections', true);
  let stopped = false;
  const open = new Set<net.Socket>();
  const one = (drip: boolean) => {
    if (stopped) return;
    const s = net.connect({ port: o.ports.dns, host: '127.0.0.1', localAddress: HOSTILE_ADDRESS });
    open.add(s);
    k.ok(0);
    let timer: NodeJS.Timeout | undefined;
    if (drip) {
      const bytes = dnsPacket.streamEncode({
        type: 'query',
        id: 1,
        questions: [{ type: 'A', name: 'x.prolo' }],
      });
      let i = 0;
      timer = setInterval(() => s.write(bytes.subarray(i, ++i)), 500);
    }
    s.on('error', () => {});
    s.on('close', () => {
      clearInterval(timer);
      open.delete(s);
      setTimeout(() => one(drip), 1000);
    });
  };
  for (let i = 0; i < count; i++) one(i % 5 === 0);
  return () => {
    stopped = true;
    for (const s of open) s.destroy();
  };
}

/**
 * Slow chunked POST bodies of 1-byte chunks (to presencesync and to MDB's RPC), half of them
 * abandoned midway; `count` in flight at any time.
 */
function slowBodies(o: { ports: SoakPorts; stats: Registry }, count: number): () => void {
  const k = o.stats.kind('hostile: slow/aborted chunked http bodies', true);
  let stopped = false;
  const open = new Set<net.Socket>();
  const one = () => {
    if (stopped) return;
    const [host, path] = pick(2) === 0 ? ['presencesync', '/login'] : ['mdb', '/call/query'];
    const s = net.connect({ port: o.ports.http, host: '127.0.0.1', localAddress: HOSTILE_ADDRESS });
    open.add(s);
    const chunks = 100 + pick(400);
    const abort = pick(2) === 0;
    let sent = 0;
    s.write(
      `POST ${path} HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n`,
    );
    const timer = setInterval(() => {
      if (abort && sent === chunks >> 1) return s.destroy();
      if (sent++ >= chunks) {
        clearInterval(timer);
        s.write('0\r\n\r\n');
        return;
      }
      s.write(`1\r\n${'data=%7B%7D&hmac=x'[sent % 18]}\r\n`);
    }, 20);
    s.on('data', () => {});
    s.on('error', () => {});
    s.on('close', () => {
      clearInterval(timer);
      open.delete(s);
      k.ok(0);
      setTimeout(one, 200);
    });
  };
  for (let i = 0; i < count; i++) one();
  return () => {
    stopped = true;
    for (const s of open) s.destroy();
  };
}

/** Junk on the HTTP port: random bytes, broken request lines, huge headers, badly signed presence. */
function httpJunk(o: { ports: SoakPorts; stats: Registry }, perSecond: number): () => void {
  const k = o.stats.kind('hostile: junk http requests', true);
  const shapes = [
    () => rand(pick(2000)),
    () => Buffer.from('GET /\x00\x01 HTTP/9.9\r\n\r\n'),
    () => Buffer.from(`GET / HTTP/1.1\r\nHost: sso\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`),
    () =>
      Buffer.from(
        'POST /heartbeat HTTP/1.1\r\nHost: presencesync\r\nContent-Length: 22\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\ndata=%7B%7D&hmac=bogus',
      ),
    () => Buffer.from('POST /call/query HTTP/1.1\r\nHost: mdb\r\nContent-Length: 5\r\n\r\n{{{{{'),
    () => Buffer.from('GET /poll?data=x&hmac=y HTTP/1.1\r\nHost: mdbsync\r\n\r\n'),
  ];
  return every(1000 / perSecond, () => {
    const s = net.connect({ port: o.ports.http, host: '127.0.0.1', localAddress: HOSTILE_ADDRESS }, () => {
      s.end(shapes[pick(shapes.length)]!());
    });
    s.setTimeout(5000, () => s.destroy());
    s.on('data', () => {});
    s.on('error', () => {});
    s.on('close', () => k.ok(0));
  });
}

export function startHostile(o: { ports: SoakPorts; stats: Registry }): () => void {
  const stops = [dnsJunk(o), tftpJunk(o), dhcpJunk(o), dnsIdle(o, 20), slowBodies(o, 10), httpJunk(o, 5)];
  return () => {
    for (const s of stops) s();
  };
}
