/**
 * Sends synthetic PXE read requests at start to a throwaway TftpServer on 127.0.0.1, so the
 * main thread's request path — the listening socket's receive callback, RRQ decoding with
 * options, the policy and path confinement, the file cache lookup, option negotiation,
 * admission, the hand-off to a worker thread and the end report — is compiled by V8 before the
 * morning's boot storm. The transfer loop itself is warmed in the kept workers (warmup.ts).
 *
 * Why: bench/bootstorm's JIT report (issue 13) showed TurboFan compiling handleRequest, the
 * codec's option reading, confinePath and the cache's checks on the storm's CPU: a storm's
 * thousand RRQs are the first the main thread ever sees.
 *
 * Nothing real is touched: the throwaway server is the same class (so V8's feedback, kept per
 * function, is the real path's, with objects of the real shapes: its configuration goes
 * through the schema, its pool is a real WorkerPool with threads of its own, its boot
 * progress a BootProgress nobody reads) with its own sockets (an ephemeral port on 127.0.0.1,
 * which the LAN cannot reach), its own metrics registry, a silent logger and a root of its own
 * (a temporary directory holding one synthetic boot file). The client is a socket of this
 * process; most transfers it ends with an ERROR after the OACK, as PXE ROMs that asked for
 * tsize do, and every 64th it completes. The real server gains no branch a packet could take.
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { encodeAck, encodeError, encodeRequest } from './codec.js';
import { type TftpConfig, tftpConfigSchema } from './config.js';

/** What the warm-up needs of a TftpServer (a throwaway one, made by the caller). */
export interface ThrowawayServer {
  start(): Promise<void>;
  stop(): Promise<void>;
  addresses(): Array<{ address: string; port: number }>;
  readonly activeTransfers: number;
}

export interface RequestWarmupReport {
  /** Requests answered (OACK) and ended. */
  requests: number;
  ms: number;
}

/** PXE ROMs' request (issue 13's storm): undionly.kpxe, 74 KB, blksize 1456 + tsize. */
const BOOT_FILE = 'undionly.kpxe';
const FILE_SIZE = 74 * 1024;
const BLKSIZE = 1456;
/** Source ports used in turn: a port is asked again long after its last transfer ended. */
const CLIENTS = 16;
/** The first request waits for the throwaway worker thread to load. */
const FIRST_TIMEOUT_MS = 10_000;
/** A request not answered within this is taken for a loopback that drops (a firewall, `lo` down). */
const TIMEOUT_MS = 2000;
/**
 * Every this many requests the transfer is completed (the main thread's report of a transfer
 * ended `ok`); the others end with the client's ERROR after the OACK: cheap, and the same
 * request path.
 */
const COMPLETE_EVERY = 64;

/** The RRQ of request `n`: as a PXE ROM asks; every 8th asks for tsize only (some ROMs' first try). */
function request(n: number): Buffer {
  const options =
    n % 8 === 7
      ? [{ name: 'tsize', value: '0' }]
      : [
          { name: 'blksize', value: String(BLKSIZE) },
          { name: 'tsize', value: '0' },
        ];
  return encodeRequest({ filename: BOOT_FILE, mode: 'octet', options });
}

/** A client socket and the transfer port of its previous request (late datagrams are ignored). */
interface Client {
  socket: dgram.Socket;
  previous: number;
}

/**
 * One request from `client`: resolves true once the transfer is over from the client's side
 * (the ERROR after the OACK sent, or the last block acknowledged when `complete`), false when
 * nothing answered within `timeoutMs`.
 */
function exchange(client: Client, port: number, n: number, complete: boolean, timeoutMs: number) {
  const { socket } = client;
  return new Promise<boolean>((resolve, reject) => {
    const blksize = n % 8 === 7 ? 512 : BLKSIZE;
    const finish = (ok: boolean, from?: number) => {
      clearTimeout(timer);
      socket.removeAllListeners('message');
      if (from !== undefined) client.previous = from;
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('message', (msg, rinfo) => {
      // A late retransmission of the transfer this client ended before (a stalled box).
      if (rinfo.port === client.previous) return;
      const op = msg[1];
      if (op === 6 && !complete) {
        socket.send(encodeError(8, 'warm-up'), rinfo.port, rinfo.address);
        finish(true, rinfo.port);
      } else if (op === 6) socket.send(encodeAck(0), rinfo.port, rinfo.address);
      else if (op === 3) {
        socket.send(encodeAck(msg.readUInt16BE(2)), rinfo.port, rinfo.address);
        if (msg.length - 4 < blksize) finish(true, rinfo.port);
      } else if (op === 5) {
        clearTimeout(timer);
        socket.removeAllListeners('message');
        reject(new Error(`the throwaway server answered ERROR ${msg.readUInt16BE(2)}`));
      }
    });
    socket.send(request(n), port, '127.0.0.1');
    // Now and then the RRQ twice, as a ROM retransmits it when the answer is late (a storm on a
    // busy box): the server's duplicate path, which the storm otherwise runs first.
    if (n % 32 === 5) socket.send(request(n), port, '127.0.0.1');
  });
}

/**
 * Runs `count` requests, one at a time, through a throwaway server made by `make` from `cfg`
 * (its listen address, root, workers and limits replaced). Resolves with what it did; rejects
 * when loopback cannot be used or the request path fails (the caller says so and carries on).
 */
export async function warmRequestPath(
  cfg: TftpConfig,
  count: number,
  make: (cfg: TftpConfig) => ThrowawayServer,
  cancelled: () => boolean = () => false,
): Promise<RequestWarmupReport> {
  const t0 = performance.now();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-tftp-warmup-'));
  // Through the schema, as the real configuration was made: the same object shape (a spread copy
  // would have another, and code compiled for it would be thrown away at the storm's first RRQ).
  const throwaway = (warmWorkers: number) =>
    tftpConfigSchema.parse({
      ...cfg,
      listen: ['127.0.0.1:0'],
      root,
      // A pool as in production: two threads started with it (so placing a transfer compares
      // workers, as with the real kept ones), no warm-up of their own.
      workers: 2,
      warmWorkers,
      warmupTransfers: 0,
      warmupRequests: 0,
      maxTransfersPerClient: CLIENTS,
    });
  try {
    fs.writeFileSync(path.join(root, BOOT_FILE), Buffer.alloc(FILE_SIZE), { mode: 0o644 });
    // One server through its whole life first (start, one transfer, stop) before V8 compiles
    // anything: `stop()` writes fields nothing else rewrites (the server's and pool's `stopped`,
    // a worker's `state`); V8 compiles their reads in the request path as constants and throws
    // that code away when any object of the class changes them — which would be the throwaway
    // server stopping after the warm-up, undoing it (seen with --trace-deopt: "marking
    // dependent code ... handleRequest ... code dependencies").
    let n = await requests(make(throwaway(0)), 1, cancelled);
    if (count > 1) n += await requests(make(throwaway(2)), count - 1, cancelled);
    return { requests: n, ms: performance.now() - t0 };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/** `count` requests, one at a time, to `server`, which is started and stopped here. */
async function requests(server: ThrowawayServer, count: number, cancelled: () => boolean): Promise<number> {
  const clients: Client[] = [];
  try {
    await server.start();
    const port = server.addresses()[0]!.port;
    for (let i = 0; i < Math.min(CLIENTS, count); i++) {
      const socket = dgram.createSocket('udp4');
      clients.push({ socket, previous: 0 });
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(0, '127.0.0.1', () => resolve());
      });
    }
    let answered = 0;
    let missed = 0;
    for (let n = 0; n < count && !cancelled(); n++) {
      const timeout = n === 0 ? FIRST_TIMEOUT_MS : TIMEOUT_MS;
      if (await exchange(clients[n % CLIENTS]!, port, n, n % COMPLETE_EVERY === 0, timeout)) {
        answered++;
        missed = 0;
      } else if (++missed === 3) throw new Error(`no answer over 127.0.0.1 within ${timeout} ms, 3 times`);
      // Until the server has seen the end (the worker's report): one transfer at a time, so the
      // pool keeps to one thread and no request meets the previous one's slot.
      for (let i = 0; i < 200 && server.activeTransfers > 0; i++) await new Promise((r) => setTimeout(r, 1));
    }
    return answered;
  } finally {
    for (const c of clients) c.socket.close();
    await server.stop();
  }
}
