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
 * Nothing real is touched: no socket (the channel is a function call), a throwaway runner whose
 * events go nowhere, so nothing is sent, counted or logged as a transfer.
 */
import type { TransferChannel } from './channel.js';
import { encodeAck, encodeError } from './codec.js';
import { memorySource } from './file-cache.js';
import { TransferRunner, type TransferSpec } from './runner.js';

/** PXE ROMs' request (issue 13's storm): undionly.kpxe, 74 KB, blksize 1456 + tsize. */
const FILE_SIZE = 74 * 1024;
const BLKSIZE = 1456;
const TIMEOUT_MS = 1000;
const TICK_MS = 20;

/**
 * The client side, in memory: remembers the last block (or the OACK) the session sent; the
 * driver then answers it, as a client's ACK arriving from the socket would.
 */
class LoopbackClient implements TransferChannel {
  readonly fast = true;
  /** Block to acknowledge next (0 for the OACK), -1 when nothing is owed. */
  owed = -1;
  private deliver: ((msg: Buffer) => void) | undefined;

  send(head: Uint8Array, body?: Uint8Array): number {
    // DATA carries its block number in bytes 2-3; an OACK (opcode 6) is acknowledged with ACK 0.
    if (head[1] === 3) this.owed = (head[2]! << 8) | head[3]!;
    else if (head[1] === 6) this.owed = 0;
    return head.length + (body?.length ?? 0) + 1;
  }
  onDatagram(fn: (msg: Buffer) => void): void {
    this.deliver = fn;
  }
  onError(): void {}
  close(): void {
    this.deliver = undefined;
  }
  receive(msg: Buffer): void {
    this.deliver?.(msg);
  }
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
  const source = memorySource(Buffer.alloc(FILE_SIZE));
  const options = [
    { name: 'blksize', value: String(BLKSIZE) },
    { name: 'tsize', value: String(FILE_SIZE) },
  ];
  let id = 0;

  const one = (n: number): void => {
    const client = new LoopbackClient();
    const spec: TransferSpec = {
      id: ++id,
      family: 'udp4',
      // TEST-NET-1 (RFC 5737): never a real client, and no socket is opened for it anyway.
      client: { address: '192.0.2.1', port: 1024 + (id % 60000) },
      local: '192.0.2.2',
      file: 'undionly.kpxe',
      mode: 'octet',
      blksize: BLKSIZE,
      windowsize: 1,
      timeoutMs: TIMEOUT_MS,
      maxTimeoutMs: 8 * TIMEOUT_MS,
      retries: 5,
      maxTransferMs: 600_000,
      oack: options,
    };
    ended = undefined;
    runner.runOn(spec, source, client);
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
