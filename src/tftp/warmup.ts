/**
 * Runs synthetic boot-file transfers through a thread's transfer path — TransferRunner, Session,
 * TransferState, the timer wheel, the codec's ACK/ERROR reading, the end report — against an
 * in-memory client, so V8 has compiled that path before the morning's boot storm.
 *
 * Why: every storm used to meet fresh worker isolates (they end when idle) running interpreted
 * code, and TurboFan compiled the transfer path on the storm's CPU: bench/bootstorm measured
 * ~0.6 ms of JIT per booted machine (issue 13), bench/tftp/cold-start.ts the first wave of a
 * storm against the later ones (bench/tftp/RESULTS.md).
 *
 * Two parts, both with a throwaway runner whose events go nowhere, so nothing is counted or
 * logged as a transfer: `transferWarmup`/`warmInSlices` run in memory (the channel is the real
 * channel code over a stand-in handle: no socket, nothing sent), then `loopbackWarmup` runs a few
 * transfers over real sockets to a client of the same thread on 127.0.0.1 (never off the host).
 */
import { asReceived } from '../net/as-received.js';
import dgram from 'node:dgram';
import { fastChannel, type TransferChannel } from './channel.js';
import { encodeAck, encodeError } from './codec.js';
import { memorySource } from './file-cache.js';
import { TransferRunner, type TransferSpec } from './runner.js';

/** PXE ROMs' request (issue 13's storm): undionly.kpxe, 74 KB, blksize 1456 + tsize. */
const FILE_SIZE = 74 * 1024;
const BLKSIZE = 1456;
const TIMEOUT_MS = 1000;
const TICK_MS = 20;
const LOOPBACK_TIMEOUT_MS = 1000;

/**
 * The client side, in memory, behind the real channel code (channel.ts `fastChannel`): stands in
 * for the socket's libuv handle, remembers the last block (or the OACK) the session sent, and
 * hands ACKs to the session as the handle would, in Buffers of the same shape (V8 compiles
 * for the object shapes it has seen: an ACK made by `Buffer.alloc` would teach it the wrong
 * one, and the storm's first real ACK would throw the compiled code away).
 */
class LoopbackClient {
  /** Block to acknowledge next (0 for the OACK), -1 when nothing is owed. */
  owed = -1;
  private deliver: ((msg: Buffer, ip: string, port: number) => void) | undefined;
  readonly channel: TransferChannel;

  constructor(private readonly port: number) {
    this.channel = fastChannel(
      {
        on() {
          return undefined;
        },
        close: () => {
          this.deliver = undefined;
        },
      },
      {
        sendConnected: (parts) => {
          const head = parts[0]!;
          // DATA carries its block number in bytes 2-3; an OACK (opcode 6) is acknowledged with ACK 0.
          if (head[1] === 3) this.owed = (head[2]! << 8) | head[3]!;
          else if (head[1] === 6) this.owed = 0;
          let bytes = 0;
          for (const p of parts) bytes += p.length;
          return bytes + 1;
        },
        onDatagram: (fn) => {
          this.deliver = fn;
        },
      },
    );
  }

  receive(packet: Buffer): void {
    this.deliver?.(asReceived(packet), '192.0.2.1', this.port);
  }
}

/** File bytes in a SharedArrayBuffer, as the cache hands them to workers. */
function sharedFile() {
  return memorySource(Buffer.from(new SharedArrayBuffer(FILE_SIZE), 0, FILE_SIZE));
}

/**
 * A PXE ROM's transfer as the main thread specifies it, structured-cloned as it crosses to a
 * worker (postMessage): its objects then have the shapes a real transfer's have.
 */
function specFor(
  id: number,
  local: string,
  client: { address: string; port: number },
  timeoutMs = TIMEOUT_MS,
  retries = 5,
): TransferSpec {
  return structuredClone({
    id,
    family: 'udp4',
    client,
    local,
    file: 'undionly.kpxe',
    mode: 'octet',
    blksize: BLKSIZE,
    windowsize: 1,
    timeoutMs,
    maxTimeoutMs: 8 * timeoutMs,
    retries,
    maxTransferMs: 600_000,
    oack: [
      { name: 'blksize', value: String(BLKSIZE) },
      { name: 'tsize', value: String(FILE_SIZE) },
    ],
  } satisfies TransferSpec);
}

export interface TransferWarmup {
  /** Runs `transfers` more synthetic transfers; returns the milliseconds they took. */
  run(transfers: number): number;
  /** Total transfers completed (a transfer that did not end `ok` throws: the path is broken). */
  readonly completed: number;
}

/**
 * A warm-up with its own runner and clock. Call `run` in slices (the event loop stays free
 * between them for real transfers); every fourth transfer also loses an ACK (our retransmission
 * timer fires), every eighth repeats one (the duplicate-ACK path), every sixteenth ends with the
 * client's ERROR after the OACK (PXE ROMs asking only for tsize).
 */
export function transferWarmup(): TransferWarmup {
  let clock = 0;
  let completed = 0;
  let ended: string | undefined;
  const runner = new TransferRunner(
    {
      confirmed() {},
      finished(_id, result) {
        ended = result;
      },
      setupFailed(_id, error) {
        ended = error;
      },
      sent() {},
      retransmitted() {},
      sendFailed() {},
      malformed() {},
    },
    TICK_MS,
    () => clock,
  );
  const source = sharedFile();
  let id = 0;

  const one = (n: number): void => {
    const port = 1024 + (id % 60000);
    const client = new LoopbackClient(port);
    ended = undefined;
    // TEST-NET-1 (RFC 5737): never a real client, and no socket is opened for it anyway.
    runner.runOn(specFor(++id, '192.0.2.2', { address: '192.0.2.1', port }), source, client.channel);
    if (n % 16 === 15) {
      client.receive(encodeError(8, 'tsize only'));
    }
    let acks = 0;
    while (ended === undefined) {
      const block = client.owed;
      if (block < 0) throw new Error('tftp warm-up: the session stopped sending');
      client.owed = -1;
      clock += 0.1;
      acks++;
      if (n % 4 === 0 && acks === 20) {
        // The ACK is lost: the timer wheel fires and the session sends the block again.
        clock += TIMEOUT_MS + TICK_MS;
        runner.tick();
        continue;
      }
      const ack = encodeAck(block);
      client.receive(ack);
      if (n % 8 === 1 && acks === 30) {
        // A duplicate after the hold-off: the client's own timer re-acknowledged.
        clock += TIMEOUT_MS / 2;
        client.receive(encodeAck(block));
      }
    }
    const want = n % 16 === 15 ? 'client-error' : 'ok';
    if (ended !== want) throw new Error(`tftp warm-up: transfer ended ${ended}, expected ${want}`);
    completed++;
  };

  return {
    run(transfers) {
      const t0 = performance.now();
      for (let i = 0; i < transfers; i++) one(completed);
      void runner.stopAll();
      return performance.now() - t0;
    },
    get completed() {
      return completed;
    },
  };
}

/**
 * Synthetic transfers per slice: a real request or transfer that arrives during the warm-up
 * waits for at most one slice (a few ms), not for the whole warm-up.
 */
const SLICE = 8;

/**
 * Runs `transfers` in-memory transfers in slices, with the event loop free between them, until
 * done or `cancelled()`. Resolves with how many ran and the milliseconds they took; rejects
 * when a transfer did not end as expected (the transfer path is broken: the caller says so).
 */
export async function warmInSlices(
  transfers: number,
  cancelled: () => boolean,
): Promise<{ completed: number; ms: number }> {
  const warmup = transferWarmup();
  let ms = 0;
  while (warmup.completed < transfers && !cancelled()) {
    await new Promise<void>((r) => setImmediate(r));
    ms += warmup.run(Math.min(SLICE, transfers - warmup.completed));
  }
  return { completed: warmup.completed, ms };
}

/**
 * `count` transfers over real sockets on 127.0.0.1 (`concurrent` at a time), the client a socket
 * of this thread: the part of the path the in-memory warm-up cannot reach (Node's dgram bind,
 * connect and close, the libuv handle's receive callback, objects of the shapes the real
 * sockets give) is compiled too. A throwaway runner: nothing counted or logged. Rejects when
 * loopback cannot be used (no `lo` in a network namespace): the caller then does without.
 */
export async function loopbackWarmup(count: number, concurrent: number): Promise<number> {
  const t0 = performance.now();
  const waiting = new Map<number, { resolve(): void; reject(e: Error): void }>();
  const runner = new TransferRunner(
    {
      confirmed() {},
      finished(id, result) {
        const w = waiting.get(id);
        if (result === 'ok') w?.resolve();
        else w?.reject(new Error(`loopback transfer ended ${result}`));
      },
      setupFailed(id, error) {
        waiting.get(id)?.reject(new Error(error));
      },
      sent() {},
      retransmitted() {},
      sendFailed() {},
      malformed() {},
    },
    TICK_MS,
  );
  const source = sharedFile();
  const one = async (id: number): Promise<void> => {
    const client = dgram.createSocket('udp4');
    try {
      await new Promise<void>((resolve, reject) => {
        client.once('error', reject);
        client.bind(0, '127.0.0.1', () => resolve());
      });
      const done = new Promise<void>((resolve, reject) => waiting.set(id, { resolve, reject }));
      client.on('message', (msg, rinfo) => {
        // OACK (6): ACK 0; DATA (3): ACK its block.
        const block = msg[1] === 6 ? 0 : msg[1] === 3 ? msg.readUInt16BE(2) : -1;
        if (block >= 0) client.send(encodeAck(block), rinfo.port, rinfo.address);
      });
      // One retry: loopback that drops datagrams (a firewall) costs 3 s once, not 23 s per transfer.
      const peer = { address: '127.0.0.1', port: client.address().port };
      runner.run(specFor(id, '127.0.0.1', peer, LOOPBACK_TIMEOUT_MS, 1), source);
      await done;
    } finally {
      waiting.delete(id);
      client.close();
    }
  };
  try {
    // One first: when loopback does not work, only it waits for the timer.
    let next = 1;
    await one(1);
    await Promise.all(
      Array.from({ length: concurrent }, async () => {
        while (next < count) await one(++next);
      }),
    );
  } finally {
    await runner.stopAll();
  }
  return performance.now() - t0;
}
