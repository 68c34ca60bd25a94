/**
 * One transfer on its own socket: glues a TransferState to a UDP socket connected to the client
 * (RFC 1350 TIDs: the server's side of the transfer is this socket's ephemeral port) and to the
 * file bytes. Timers are not here: the server's shared TimerWheel calls `onTimer`.
 *
 * The socket is connect()ed to the client, so the kernel drops datagrams from any other address
 * or port (RFC 1350's "unknown transfer ID" case) and reports an ICMP port-unreachable as
 * ECONNREFUSED, which tells us early that a client has gone.
 */
import { getSystemErrorName } from 'node:util';
import type { TransferChannel } from './channel.js';
import { decodePacket, encodeDataHeader, encodeOack, peekAck, type TftpOption } from './codec.js';
import type { FileSource } from './file-cache.js';
import type { TransferMode } from './policy.js';
import type { WheelItem } from './timer-wheel.js';
import { type SendAction, type StepResult, TransferState } from './transfer.js';

export type TransferResult =
  | 'ok'
  | 'timeout'
  | 'client-error'
  | 'client-gone'
  | 'evicted'
  | 'too-long'
  | 'read-failed'
  | 'socket-error'
  | 'shutdown'
  /** The worker thread running the transfer died (see worker-pool.ts). */
  | 'worker-lost';

export interface SessionInfo {
  client: { address: string; port: number };
  /** Local address the request arrived on: the transfer socket binds to it. */
  local: string;
  file: string;
  mode: TransferMode;
  blksize: number;
  windowsize: number;
  timeoutMs: number;
  maxTimeoutMs: number;
  retries: number;
  maxTransferMs: number;
  oack: TftpOption[] | null;
}

export interface SessionHooks {
  now(): number;
  /** The deadline changed: (re)file the session in the timer wheel. */
  schedule(s: Session): void;
  /** First ACK seen: the client is real; it can no longer be evicted. */
  confirmed(s: Session): void;
  sent(bytes: number): void;
  retransmitted(blocks: number): void;
  /** A send failed with this errno name (other than ECONNREFUSED, which ends the transfer). */
  sendFailed(code: string): void;
  malformed(reason: string): void;
  finished(s: Session, result: TransferResult, detail?: Record<string, unknown>): void;
}

export class Session implements WheelItem {
  wheelTick = -1;
  readonly state: TransferState;
  readonly startedAt: number;
  private done = false;
  /** Disk-backed files: a range read is in flight; the latest wanted send waits here. */
  private reading = false;
  private wanted: SendAction | undefined;
  /** DATA header reused from block to block while the kernel takes each datagram at once. */
  private header = encodeDataHeader(0);

  constructor(
    readonly info: SessionInfo,
    private readonly channel: TransferChannel,
    private readonly source: FileSource,
    private readonly hooks: SessionHooks,
  ) {
    this.startedAt = hooks.now();
    this.state = new TransferState({
      size: source.size,
      blksize: info.blksize,
      windowsize: info.windowsize,
      timeoutMs: info.timeoutMs,
      maxTimeoutMs: info.maxTimeoutMs,
      retries: info.retries,
      oack: info.oack !== null,
    });
    channel.onDatagram((msg) => {
      try {
        this.onPacket(msg);
      } catch (e) {
        this.finish('socket-error', { error: e instanceof Error ? e.message : String(e) });
      }
    });
    channel.onError((e) => {
      this.finish(errorCode(e) === 'ECONNREFUSED' ? 'client-gone' : 'socket-error', { error: e.message });
    });
  }

  /** The retransmission deadline is the state machine's; the wheel reads it through here. */
  get deadline(): number {
    return this.state.deadline;
  }

  start(): void {
    this.apply(this.state.start(this.hooks.now()));
  }

  onTimer(now: number): void {
    if (this.done) return;
    if (now - this.startedAt > this.info.maxTransferMs) {
      this.finish('too-long');
      return;
    }
    const before = this.state.retransmittedBlocks;
    const step = this.state.onTimeout(now);
    this.hooks.retransmitted(this.state.retransmittedBlocks - before);
    this.apply(step);
  }

  finish(result: TransferResult, detail?: Record<string, unknown>): void {
    if (this.done) return;
    this.done = true;
    this.state.finished = true;
    this.state.deadline = Number.POSITIVE_INFINITY;
    this.channel.close();
    this.source.close();
    this.hooks.finished(this, result, detail);
  }

  private onPacket(msg: Buffer): void {
    if (this.done) return;
    const block = peekAck(msg);
    if (block >= 0) {
      const now = this.hooks.now();
      if (now - this.startedAt > this.info.maxTransferMs) {
        this.finish('too-long');
        return;
      }
      const wasConfirmed = this.state.confirmed;
      const before = this.state.retransmittedBlocks;
      const step = this.state.onAck(block, now);
      if (!wasConfirmed && this.state.confirmed) this.hooks.confirmed(this);
      // A re-acknowledgement after the client's own timeout retransmits (transfer.ts).
      if (this.state.retransmittedBlocks !== before)
        this.hooks.retransmitted(this.state.retransmittedBlocks - before);
      this.apply(step);
      return;
    }
    const decoded = decodePacket(msg);
    if (!decoded.ok) {
      this.hooks.malformed(decoded.error.reason);
      return;
    }
    const p = decoded.packet;
    if (p.op === 'ERROR') {
      // PXE ROMs send ERROR (code 0 or 8) after the OACK when they only wanted tsize.
      this.finish('client-error', { clientErrorCode: p.code, clientErrorMessage: p.message.slice(0, 100) });
      return;
    }
    this.hooks.malformed(`unexpected-${p.op.toLowerCase()}`);
  }

  private apply(step: StepResult): void {
    switch (step.kind) {
      case 'ignore':
        return;
      case 'done':
        this.finish('ok');
        return;
      case 'gave-up':
        this.finish('timeout');
        return;
      case 'send':
        this.hooks.schedule(this);
        this.send(step.send);
        return;
    }
  }

  private send(action: SendAction): void {
    if (action.kind === 'oack') {
      this.sent(this.channel.send(encodeOack(this.info.oack ?? [])));
      return;
    }
    if (this.source.kind === 'memory') {
      this.sendBlocks(action.from, action.to, this.source.data, 0);
      return;
    }
    this.wanted = action;
    if (!this.reading) void this.readAndSend();
  }

  private sendBlocks(from: number, to: number, data: Buffer, dataOffset: number): void {
    let bytes = 0;
    const { blksize, size } = this.state.p;
    for (let b = from; b <= to && !this.done; b++) {
      // Block b covers [(b-1)*blksize, min(b*blksize, size)) of the file (TransferState.blockRange).
      const start = (b - 1) * blksize;
      const end = Math.min(start + blksize, size);
      const s = Math.min(start - dataOffset, data.length);
      const e = Math.min(end - dataOffset, data.length);
      const header = this.header;
      const wire = TransferState.wire(b);
      header[2] = wire >>> 8;
      header[3] = wire & 0xff;
      this.sent(this.channel.send(header, data.subarray(s, e)));
      bytes += e - s;
    }
    this.hooks.sent(bytes);
  }

  /** Follows up a send: a queued datagram keeps its header, so the next block gets a new one. */
  private sent(status: number): void {
    if (status > 0) return;
    if (status === 0) {
      this.header = encodeDataHeader(0);
      return;
    }
    const code = getSystemErrorName(status);
    // A closed client port: stop now. Anything else (a firewall's EPERM, a route that is gone)
    // may pass; the retransmission timer decides, as it did when dgram ignored send errors.
    if (code === 'ECONNREFUSED') this.finish('client-gone', { error: 'send failed: ECONNREFUSED' });
    else this.hooks.sendFailed(code);
  }

  private async readAndSend(): Promise<void> {
    if (this.source.kind !== 'disk') return;
    this.reading = true;
    try {
      while (this.wanted && !this.done) {
        const { from, to } = this.wanted as { from: number; to: number };
        this.wanted = undefined;
        const start = this.state.blockRange(from).start;
        const end = this.state.blockRange(to).end;
        const data = await this.source.read(start, end - start);
        if (this.done) return;
        this.sendBlocks(from, to, data, start);
      }
    } catch (e) {
      this.finish('read-failed', { error: e instanceof Error ? e.message : String(e) });
    } finally {
      this.reading = false;
    }
  }
}

function errorCode(e: NodeJS.ErrnoException): string | undefined {
  if (e.code) return e.code;
  // The fast receive path reports recvmsg failures with a libuv errno only.
  return typeof e.errno === 'number' && e.errno < 0 ? getSystemErrorName(e.errno) : undefined;
}
