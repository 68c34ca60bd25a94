/**
 * Runs iPXE's two requests — `GET /bootstrap`, then `GET /boot/<mac>/` on the same keep-alive
 * connection, `Host: netboot` — against a throwaway copy of the netboot host at start, so V8
 * has compiled that path (node:http's parser, response and socket code, HttpServer.dispatch,
 * the client limits, NetbootService.handle, the policy and scripts, the log line, the counters,
 * the boot-progress record) before the morning's boot storm.
 *
 * Why: measured in bench/bootstorm (issue 13), a fresh server's first storm is node:http and
 * netboot's first real traffic, and TurboFan compiled that code on the storm's CPU; the lone
 * warm-up machine the bench boots first compiles nothing (V8 optimises a function after many
 * calls).
 *
 * The copy is built from the production classes (HttpServer, NetbootService, NetbootView,
 * BootProgress, Metrics, the logger), so the code compiled here is the code the storm runs and
 * the object shapes it learnt are the ones the storm brings: V8 keeps a function's feedback and
 * optimised code per creation site, shared by every instance. Its collaborators are throwaway:
 * a logger whose lines go nowhere, its own metrics registry, its own boot-progress tracker, a
 * fixed view of two synthetic machines instead of MDB and a registrar that refuses, an HTTP
 * server of its own on 127.0.0.1:0 that exists only during the warm-up, and an access log
 * (when enabled) writing nowhere. The real listeners, log, metrics and store never see it, and
 * no request to them is treated differently.
 */
import net from 'node:net';
import { BootProgress } from '../../boot/progress.js';
import type { GatehouseConfig } from '../../config/index.js';
import { silentLogger } from '../../log.js';
import type { Machine, Switch } from '../../mdb/model.js';
import { syntheticMac, syntheticMachine } from '../../mdb/synthetic.js';
import { Metrics } from '../../metrics.js';
import { HttpServer } from '../server.js';
import { RegistrationFailed } from './register.js';
import { NetbootService } from './service.js';
import { NetbootView } from './view.js';

/** Connections at once: a real request arriving meanwhile waits behind a few requests, ~ms. */
const CONCURRENT = 4;
/** An exchange over loopback takes well under this; past it loopback is unusable (a firewall). */
const EXCHANGE_TIMEOUT_MS = 5000;
const HEAD_END = '\r\n\r\n';

/**
 * Hosts the exchanges alternate between. Two, not one: a call to a closure made per instance
 * (the netboot handler HttpServer.dispatch calls, a logger's methods) then sees two closures of
 * one creation site, and V8 compiles it for any closure of that site, the real one included.
 * With one it would compile it for the throwaway closure alone and throw the code away at the
 * first real request ("wrong call target").
 */
const HOSTS = 2;

/**
 * Registered machines the exchanges rotate through, more than a warm-up tracker keeps
 * (TRACKED): a storm's boot-progress records are of machines not seen yet, and V8 compiles
 * only the branches it saw taken.
 */
const KNOWN = 12;
const TRACKED = 8;

/** Locally administered MACs no real machine is expected to have (fe:57:41:52:<kind>:<i>). */
function warmupMac(kind: number, i: number): string {
  return syntheticMac(0x4152_0000 + kind * 256 + i);
}

/** Registered machines and their RFS (TEST-NET-1 addresses, RFC 5737): `/boot/` answers `boot`. */
const MACHINES: readonly Machine[] = [
  ...Array.from({ length: KNOWN }, (_, i) =>
    syntheticMachine(`gatehouse-warmup-${i}`, `192.0.2.${10 + i}`, warmupMac(0x4d, i)),
  ),
  syntheticMachine('gatehouse-warmup-rfs', '192.0.2.2', warmupMac(0x4f, 0), 'rfs0,rhfs0'),
];
const SWITCHES: readonly Switch[] = [
  { name: 'gatehouse-warmup', chassis: warmupMac(0x4f, 1), room: 'other', rfs: 0, hfs: 0 },
];

/**
 * The second request of exchange `n` (`k`th on its host). A registered machine not tracked yet,
 * every fourth one the previous machine again (it rebooted), every eighth an unknown MAC; iPXE
 * percent-encodes the `:` of `${mac}` in a URL (policy.ts), other clients may not.
 */
function bootPath(n: number): string {
  const k = Math.floor(n / HOSTS);
  const i = (k % 4 === 3 ? k - 1 : k) % KNOWN;
  const mac = warmupMac(k % 8 === 6 ? 0x4e : 0x4d, i);
  return `/boot/${k % 2 === 0 ? mac.replaceAll(':', '%3A') : mac}/`;
}

function request(path: string): string {
  // iPXE's request head (bench/bootstorm/http-client.ts sends the same).
  return `GET ${path} HTTP/1.1\r\nHost: netboot\r\nUser-Agent: iPXE/1.21.1\r\nConnection: keep-alive\r\n\r\n`;
}

/**
 * One iPXE exchange (the `n`th of a warm-up) on a fresh connection to 127.0.0.1:`port`: both
 * requests, one at a time, each answer read to the end of its Content-Length. Rejects on
 * anything but a 200 iPXE script (the path is broken) or after EXCHANGE_TIMEOUT_MS.
 */
export function ipxeExchange(port: number, n: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const paths = ['/bootstrap', bootPath(n)];
    let buf = '';
    // Each machine of a storm is a client address of its own with one connection: so here
    // (all of 127.0.0.0/8 is loopback), or the per-client accounting runs another branch.
    const localAddress = `127.0.0.${1 + (n % 200)}`;
    const socket = net.connect({ host: '127.0.0.1', port, localAddress, noDelay: true });
    const timer = setTimeout(
      () => fail(new Error('http warm-up: no answer over 127.0.0.1')),
      EXCHANGE_TIMEOUT_MS,
    );
    const fail = (e: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(e);
    };
    socket.setEncoding('latin1');
    socket.on('error', fail);
    socket.on('end', () => fail(new Error('http warm-up: the server closed the connection')));
    socket.on('connect', () => socket.write(request(paths[0]!)));
    socket.on('data', (chunk: string) => {
      buf += chunk;
      const end = buf.indexOf(HEAD_END);
      if (end < 0) return;
      const head = buf.slice(0, end);
      const length = /\r\ncontent-length: *(\d+)/i.exec(head);
      if (!length) return fail(new Error('http warm-up: an answer without Content-Length'));
      const bodyStart = end + HEAD_END.length;
      if (buf.length < bodyStart + Number(length[1])) return;
      if (!head.startsWith('HTTP/1.1 200 ') || !buf.startsWith('#!ipxe', bodyStart))
        return fail(new Error(`http warm-up: ${paths[0]} answered ${head.split('\r\n')[0]}`));
      buf = buf.slice(bodyStart + Number(length[1]));
      paths.shift();
      if (paths.length > 0) {
        socket.write(request(paths[0]!));
        return;
      }
      clearTimeout(timer);
      socket.removeAllListeners('end');
      socket.end();
      resolve();
    });
  });
}

/**
 * A throwaway netboot host on 127.0.0.1:0, built as production builds it (app.ts, service.ts):
 * same classes, throwaway collaborators (see the file comment).
 */
async function throwawayHost(
  config: GatehouseConfig,
  switches: readonly Switch[],
): Promise<{ port: number; close(): Promise<void> }> {
  const metrics = new Metrics();
  const http = new HttpServer(
    silentLogger.child({ part: 'http' }),
    metrics,
    config.network.domain,
    {
      ...config.http,
      listen: ['127.0.0.1:0'],
      maxConnectionsPerClient: Math.max(config.http.maxConnectionsPerClient, CONCURRENT),
    },
    () => {},
  );
  const refuse = async (): Promise<string> => {
    throw new RegistrationFailed('the warm-up registers nothing');
  };
  const service = new NetbootService(
    { config, logger: silentLogger, metrics, http },
    refuse,
    NetbootView.fixed(MACHINES, switches),
    new BootProgress({ maxEntries: TRACKED }),
  );
  const close = async () => {
    await http.close();
    await service.stop();
  };
  try {
    await service.start();
    await http.listen(['127.0.0.1:0']);
  } catch (e) {
    await close();
    throw e;
  }
  return { port: http.port, close };
}

export interface NetbootWarmupResult {
  exchanges: number;
  ms: number;
}

/**
 * Runs `exchanges` iPXE exchanges (CONCURRENT at a time, the event loop free between them)
 * through throwaway netboot hosts built as production builds one from `config`, until done or
 * `cancelled()`; their listeners are closed before this resolves. Rejects when an exchange fails.
 */
export async function warmNetbootHttp(
  config: GatehouseConfig,
  exchanges: number,
  cancelled: () => boolean,
): Promise<NetbootWarmupResult> {
  const t0 = performance.now();
  const hosts: Array<Awaited<ReturnType<typeof throwawayHost>>> = [];
  let done = 0;
  try {
    // With and without switches: V8 makes an empty array of another kind than a filled one, and
    // the storm's list may be either.
    for (let i = 0; i < HOSTS; i++) hosts.push(await throwawayHost(config, i === 0 ? SWITCHES : []));
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENT }, async () => {
        while (next < exchanges && !cancelled()) {
          const n = next++;
          await new Promise<void>((r) => setImmediate(r));
          await ipxeExchange(hosts[n % HOSTS]!.port, n);
          done++;
        }
      }),
    );
  } finally {
    await Promise.all(hosts.map((h) => h.close()));
  }
  return { exchanges: done, ms: performance.now() - t0 };
}
