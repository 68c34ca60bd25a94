import { RawNetlinkSocket } from 'netlink';
import { GatehouseError, errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import { LogRateLimiter } from '../rate-limit.js';
import {
  NETLINK_NETFILTER,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_NOOP,
  NLMSG_OVERRUN,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_MULTI,
  NLM_F_REQUEST,
} from './constants.js';
import { ackError, netlinkTimeout, socketError } from './errors.js';
import { type NetlinkAck, type NetlinkMessage, decodeAck, decodeMessages, encodeMessage } from './message.js';

/**
 * The part of netlink@0.3.0's RawNetlinkSocket we use, so tests can put a fake kernel behind
 * it. Two faults of that binding abort the whole process and shape this file:
 *  - an exception escaping a 'message' listener is thrown from a native uv callback: every
 *    listener here catches everything;
 *  - a receive error (ENOBUFS when an event socket overruns) is emitted as 'error', and an
 *    EventEmitter without an 'error' listener throws — again from native code. We always
 *    listen. When the kernel flags the overrun through poll (POLLERR) instead, the binding
 *    closes the socket itself; we notice and report `closed` so the owner reopens.
 */
export interface RawSocketLike {
  on(event: 'message', fn: (msg: Buffer, rinfo: { port: number; groups: number }) => void): unknown;
  on(
    event: 'truncatedMessage',
    fn: (msg: Buffer, rinfo: { port: number; groups: number; truncated?: number }) => void,
  ): unknown;
  on(
    event: 'error',
    fn: (err: Error & { code?: string; errno?: number; syscall?: string | null }) => void,
  ): unknown;
  send(
    msg: Uint8Array | Uint8Array[],
    options: { port?: number; groups?: number } | undefined,
    cb: (err?: Error) => void,
  ): void;
  close(): void;
  address(): { port: number; groups: number };
  addMembership(group: number): void;
  setRecvBufferSize(n: number): unknown;
  getRecvBufferSize(): number;
  setSendBufferSize(n: number): unknown;
  unref(): void;
}

export type RawSocketFactory = (protocol: number) => RawSocketLike;

export const defaultRawFactory: RawSocketFactory = (protocol) =>
  new RawNetlinkSocket(protocol, { recvBufferSize: 0, sendBufferSize: 0 }) as unknown as RawSocketLike;

export interface NetlinkSocketOptions {
  /** Names the socket in logs and errors (`ctnetlink-events`, `nftables`…). */
  name: string;
  logger: Logger;
  protocol?: number;
  /**
   * SO_RCVBUF to ask for. The kernel caps the request at net.core.rmem_max and doubles it
   * (so 8 MiB needs rmem_max ≥ 4 MiB, the default here); the effective size is logged.
   */
  recvBufferBytes?: number;
  sendBufferBytes?: number;
  /** Multicast groups to join (ctnetlink: 1 NEW, 2 UPDATE, 3 DESTROY). */
  groups?: readonly number[];
  /** Messages that answer no pending request (events, logged packets). Must not throw; if it does we log. */
  onMessage?: (m: NetlinkMessage) => void;
  /** The kernel dropped messages for us (ENOBUFS): events were lost. */
  onOverrun?: () => void;
  /** The binding closed the socket after a poll error; nothing more will arrive. */
  onClosed?: (reason: string) => void;
  /** Do not keep the event loop alive for this socket (CLI one-shots). */
  unref?: boolean;
  rawFactory?: RawSocketFactory;
  /** Default answer timeout for requests and batches. */
  timeoutMs?: number;
}

export interface NetlinkSocketStats {
  datagrams: number;
  messages: number;
  malformed: number;
  overruns: number;
  listenerErrors: number;
}

/** One part of a batch, with a description used in error messages. */
export interface OutgoingMessage {
  type: number;
  flags: number;
  payload: Buffer;
  describe: string;
}

export interface DumpResult {
  messages: NetlinkMessage[];
  /** NLM_F_DUMP_INTR: the table changed during the dump; the caller may retry. */
  interrupted: boolean;
}

interface Pending {
  onMessage(m: NetlinkMessage): void;
  fail(e: Error): void;
}

/**
 * A netlink socket with request/answer matching by sequence number, dumps, nfnetlink
 * batches with one ack per message, and safe event delivery.
 */
export class NetlinkSocket {
  readonly stats: NetlinkSocketStats = {
    datagrams: 0,
    messages: 0,
    malformed: 0,
    overruns: 0,
    listenerErrors: 0,
  };
  private readonly raw: RawSocketLike;
  private readonly pending = new Map<number, Pending>();
  private seq: number;
  private closed = false;
  private readonly malformedLog = new LogRateLimiter(10_000);
  private readonly listenerLog = new LogRateLimiter(10_000);
  readonly port: number;
  /** Effective SO_RCVBUF after the kernel's cap and doubling. */
  readonly recvBufferBytes: number;
  private readonly timeoutMs: number;

  constructor(private readonly opts: NetlinkSocketOptions) {
    const factory = opts.rawFactory ?? defaultRawFactory;
    try {
      this.raw = factory(opts.protocol ?? NETLINK_NETFILTER);
    } catch (e) {
      throw socketError(`${opts.name} socket`, e);
    }
    this.timeoutMs = opts.timeoutMs ?? 5000;
    // Sequence numbers start somewhere unpredictable-ish and never hit 0 (events use 0).
    this.seq = (Date.now() & 0x3fffffff) + 1;
    this.raw.on('error', (err) => this.safely(() => this.onRawError(err)));
    this.raw.on('message', (msg, rinfo) => this.safely(() => this.onDatagram(msg, rinfo.port)));
    this.raw.on('truncatedMessage', () => this.safely(() => this.countMalformed('truncated datagram')));
    try {
      if (opts.recvBufferBytes) this.raw.setRecvBufferSize(opts.recvBufferBytes);
      if (opts.sendBufferBytes) this.raw.setSendBufferSize(opts.sendBufferBytes);
      for (const g of opts.groups ?? []) this.raw.addMembership(g);
      this.port = this.raw.address().port;
      this.recvBufferBytes = this.raw.getRecvBufferSize();
      if (opts.unref) this.raw.unref();
    } catch (e) {
      this.closeRaw();
      throw socketError(`${opts.name} socket setup`, e);
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    if (this.seq === 0) this.seq = 1;
    return this.seq;
  }

  /** Runs `fn`, never letting an exception reach the native callback that called us. */
  private safely(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.stats.listenerErrors++;
      try {
        this.listenerLog.run((suppressed) =>
          this.opts.logger.error('netlink.listener_failed', {
            socket: this.opts.name,
            error: errorMessage(e),
            suppressed,
          }),
        );
      } catch {
        // Even logging failed (a broken sink): swallowing is the only safe thing left here.
      }
    }
  }

  private onRawError(err: Error & { code?: string; errno?: number; syscall?: string | null }): void {
    if (err.code === 'ENOBUFS') {
      this.stats.overruns++;
      this.opts.onOverrun?.();
    } else {
      this.opts.logger.warn('netlink.socket_error', {
        socket: this.opts.name,
        error: err.message,
        code: err.code,
      });
    }
    // A poll error makes the binding close the socket: probe whether it is still usable.
    if (!this.closed && !this.rawAlive()) {
      this.closed = true;
      const reason = `${err.code ?? 'error'}: ${err.message}`;
      this.failAll(
        new GatehouseError(
          'GH_NETLINK',
          `netlink ${this.opts.name} socket was closed by a receive error (${reason})`,
        ),
      );
      this.opts.onClosed?.(reason);
    }
  }

  private rawAlive(): boolean {
    try {
      this.raw.address();
      return true;
    } catch {
      return false;
    }
  }

  private countMalformed(why: string, e?: unknown): void {
    this.stats.malformed++;
    this.malformedLog.run((suppressed) =>
      this.opts.logger.warn('netlink.malformed', {
        socket: this.opts.name,
        why,
        error: e ? errorMessage(e) : undefined,
        suppressed,
      }),
    );
  }

  private onDatagram(buf: Buffer, fromPort: number): void {
    this.stats.datagrams++;
    // Only the kernel (port 0) talks to us; anything else is a local process poking the socket.
    if (fromPort !== 0) {
      this.countMalformed(`datagram from user port ${fromPort}`);
      return;
    }
    let msgs: NetlinkMessage[];
    try {
      msgs = decodeMessages(buf);
    } catch (e) {
      this.countMalformed('undecodable datagram', e);
      return;
    }
    for (const m of msgs) {
      this.stats.messages++;
      if (m.type === NLMSG_OVERRUN) {
        this.stats.overruns++;
        this.safely(() => this.opts.onOverrun?.());
        continue;
      }
      if (m.type === NLMSG_NOOP) continue;
      const p = m.seq !== 0 ? this.pending.get(m.seq) : undefined;
      if (p) this.safely(() => p.onMessage(m));
      else if (this.opts.onMessage) this.safely(() => this.opts.onMessage!(m));
    }
  }

  private send(bufs: Buffer[], what: string): Promise<void> {
    if (this.closed)
      return Promise.reject(
        new GatehouseError('GH_NETLINK', `netlink ${this.opts.name} socket is closed; cannot send ${what}`),
      );
    return new Promise((resolve, reject) => {
      try {
        this.raw.send(bufs.length === 1 ? bufs[0]! : bufs, undefined, (err) => {
          if (err) reject(socketError(`send of ${what}`, err));
          else resolve();
        });
      } catch (e) {
        reject(socketError(`send of ${what}`, e));
      }
    });
  }

  /** Sends one request whose replies `reg` awaits; a failed send unregisters it and rejects. */
  private sendRegistered(
    msg: OutgoingMessage,
    extraFlags: number,
    seq: number,
    reg: { done: () => void },
    reject: (e: Error) => void,
  ): void {
    const buf = encodeMessage({
      type: msg.type,
      flags: msg.flags | NLM_F_REQUEST | extraFlags,
      seq,
      pid: this.port,
      payload: msg.payload,
    });
    this.send([buf], msg.describe).catch((e: unknown) => {
      reg.done();
      reject(e as Error);
    });
  }

  private register(seqs: number[], p: Pending, what: string, timeoutMs: number): { done: () => void } {
    const timer = setTimeout(() => {
      for (const s of seqs) this.pending.delete(s);
      p.fail(netlinkTimeout(what, timeoutMs));
    }, timeoutMs);
    for (const s of seqs) this.pending.set(s, p);
    return {
      done: () => {
        clearTimeout(timer);
        for (const s of seqs) this.pending.delete(s);
      },
    };
  }

  /**
   * Sends one request with NLM_F_ACK and resolves with the replies that came before the ack
   * (for a GET) or nothing (for a change). A kernel error rejects with GH_NETLINK.
   */
  request(msg: OutgoingMessage, opts: { timeoutMs?: number } = {}): Promise<NetlinkMessage[]> {
    const seq = this.nextSeq();
    const replies: NetlinkMessage[] = [];
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    return new Promise<NetlinkMessage[]>((resolve, reject) => {
      const reg = this.register(
        [seq],
        {
          onMessage: (m) => {
            if (m.type !== NLMSG_ERROR) {
              replies.push(m);
              return;
            }
            reg.done();
            const ack = decodeAck(m);
            if (ack.errno === 0) resolve(replies);
            else reject(ackError(msg.describe, ack));
          },
          fail: reject,
        },
        msg.describe,
        timeoutMs,
      );
      this.sendRegistered(msg, NLM_F_ACK, seq, reg, reject);
    });
  }

  /** A dump (NLM_F_DUMP): every NLM_F_MULTI message until NLMSG_DONE. */
  dump(msg: OutgoingMessage, opts: { timeoutMs?: number } = {}): Promise<DumpResult> {
    const seq = this.nextSeq();
    const messages: NetlinkMessage[] = [];
    let interrupted = false;
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs * 6;
    return new Promise<DumpResult>((resolve, reject) => {
      const reg = this.register(
        [seq],
        {
          onMessage: (m) => {
            if (m.flags & NLM_F_DUMP_INTR) interrupted = true;
            if (m.type === NLMSG_DONE) {
              reg.done();
              const err = m.payload.length >= 4 ? m.payload.readInt32LE(0) : 0;
              if (err < 0)
                reject(
                  ackError(msg.describe, { errno: -err, request: { type: msg.type, flags: 0, seq, pid: 0 } }),
                );
              else resolve({ messages, interrupted });
              return;
            }
            if (m.type === NLMSG_ERROR) {
              const ack = decodeAck(m);
              if (ack.errno === 0) return; // an ack before DONE carries nothing
              reg.done();
              reject(ackError(msg.describe, ack));
              return;
            }
            messages.push(m);
            // A single reply without NLM_F_MULTI ends the exchange (not a real dump).
            if (!(m.flags & NLM_F_MULTI)) {
              reg.done();
              resolve({ messages, interrupted });
            }
          },
          fail: reject,
        },
        msg.describe,
        timeoutMs,
      );
      this.sendRegistered(msg, NLM_F_DUMP, seq, reg, reject);
    });
  }

  /**
   * Sends `begin`, the messages (each with NLM_F_ACK) and `end` in one datagram — an
   * nfnetlink batch, which nf_tables applies as one transaction — and waits for every ack.
   * The kernel reports every failing message; we reject with the first one.
   */
  batch(
    begin: OutgoingMessage,
    messages: readonly OutgoingMessage[],
    end: OutgoingMessage,
    opts: { timeoutMs?: number } = {},
  ): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    const beginSeq = this.nextSeq();
    const seqs = messages.map(() => this.nextSeq());
    const endSeq = this.nextSeq();
    const bySeq = new Map(seqs.map((s, i) => [s, messages[i]!]));
    const answered = new Map<number, NetlinkAck>();
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const what = `batch of ${messages.length} message(s) starting with ${messages[0]!.describe}`;
    return new Promise<void>((resolve, reject) => {
      const reg = this.register(
        [beginSeq, ...seqs, endSeq],
        {
          onMessage: (m) => {
            if (m.type !== NLMSG_ERROR) return;
            const ack = decodeAck(m);
            if (m.seq === beginSeq || m.seq === endSeq) {
              // The whole batch was refused (no permission, out of memory…).
              reg.done();
              reject(ackError(m.seq === beginSeq ? `${what} (batch header)` : `${what} (batch end)`, ack));
              return;
            }
            answered.set(m.seq, ack);
            if (answered.size < seqs.length) return;
            reg.done();
            const failures = seqs.filter((s) => answered.get(s)!.errno !== 0);
            if (failures.length === 0) {
              resolve();
              return;
            }
            const first = failures[0]!;
            reject(
              ackError(
                `${bySeq.get(first)!.describe} (message ${seqs.indexOf(first) + 1} of ${seqs.length}; whole batch rolled back)`,
                answered.get(first)!,
                {
                  failures: failures.map((s) => ({
                    request: bySeq.get(s)!.describe,
                    errno: answered.get(s)!.errno,
                  })),
                },
              ),
            );
          },
          fail: reject,
        },
        what,
        timeoutMs,
      );
      const bufs = [
        encodeMessage({
          type: begin.type,
          flags: begin.flags | NLM_F_REQUEST,
          seq: beginSeq,
          pid: this.port,
          payload: begin.payload,
        }),
        ...messages.map((m, i) =>
          encodeMessage({
            type: m.type,
            flags: m.flags | NLM_F_REQUEST | NLM_F_ACK,
            seq: seqs[i]!,
            pid: this.port,
            payload: m.payload,
          }),
        ),
        encodeMessage({
          type: end.type,
          flags: end.flags | NLM_F_REQUEST,
          seq: endSeq,
          pid: this.port,
          payload: end.payload,
        }),
      ];
      // One sendmsg: the kernel only treats messages of the same skb as one batch.
      this.send([Buffer.concat(bufs)], what).catch((e: unknown) => {
        reg.done();
        reject(e as Error);
      });
    });
  }

  private failAll(e: Error): void {
    const seen = new Set<Pending>();
    for (const p of this.pending.values()) {
      if (seen.has(p)) continue;
      seen.add(p);
      try {
        p.fail(e);
      } catch {
        // a rejected promise's handler cannot throw back here; ignore
      }
    }
    this.pending.clear();
  }

  private closeRaw(): void {
    try {
      this.raw.close();
    } catch {
      // already closed by the binding
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.failAll(new GatehouseError('GH_NETLINK', `netlink ${this.opts.name} socket closed`));
    this.closeRaw();
  }
}
