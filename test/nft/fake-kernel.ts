import { EventEmitter } from 'node:events';
import {
  NFNL_MSG_BATCH_BEGIN,
  NFNL_MSG_BATCH_END,
  NLMSG_DONE,
  NLM_F_ACK,
  NLM_F_MULTI,
} from '../../src/nft/netlink/constants.js';
import {
  type NetlinkMessage,
  decodeMessages,
  encodeAck,
  encodeMessage,
} from '../../src/nft/netlink/message.js';
import type { RawSocketFactory, RawSocketLike } from '../../src/nft/netlink/socket.js';

/**
 * A stand-in for netlink@0.3.0's RawNetlinkSocket that behaves like the binding where it
 * matters: it calls listeners synchronously from "native" code — so an exception escaping a
 * listener, or an 'error' event without a listener, throws out of `deliver()`/`failRecv()`,
 * which in the real binding aborts the process — and a poll error closes the socket.
 */
export class FakeRaw extends EventEmitter implements RawSocketLike {
  readonly sent: NetlinkMessage[] = [];
  readonly groups: number[] = [];
  recvBuffer = 0;
  closed = false;
  /** Answers the kernel would send for one request message (default: ack everything that asks). */
  respond: (m: NetlinkMessage) => Buffer[] = (m) =>
    m.flags & NLM_F_ACK ? [encodeAck({ errno: 0, request: m })] : [];

  send(msg: Uint8Array | Uint8Array[], _o: unknown, cb: (err?: Error) => void): void {
    if (this.closed) throw new Error('Netlink socket is closed');
    const buf = Buffer.concat((Array.isArray(msg) ? msg : [msg]).map((b) => Buffer.from(b)));
    const msgs = decodeMessages(buf);
    this.sent.push(...msgs);
    setImmediate(() => {
      cb();
      const out: Buffer[] = [];
      for (const m of msgs) {
        if (m.type === NFNL_MSG_BATCH_BEGIN || m.type === NFNL_MSG_BATCH_END) continue;
        out.push(...this.respond(m));
      }
      if (out.length > 0 && !this.closed) this.deliver(Buffer.concat(out));
    });
  }

  /** A datagram from the kernel (port 0). Throws if a listener threw: the process would abort. */
  deliver(buf: Buffer, port = 0): void {
    this.emit('message', buf, { port, groups: 0 });
  }

  /** recvmsg failed (ENOBUFS on overrun): the binding emits 'error' and keeps the socket. */
  failRecv(code = 'ENOBUFS'): void {
    this.emit(
      'error',
      Object.assign(new Error('Error when receiving Netlink message: No buffer space available'), {
        code,
        errno: 105,
        syscall: 'recvmsg',
      }),
    );
  }

  /** POLLERR: the binding reports an error and closes the socket itself. */
  pollError(): void {
    this.closed = true;
    this.emit(
      'error',
      Object.assign(new Error('error when polling socket: bad file descriptor'), {
        code: 'EBADF',
        errno: 9,
        syscall: null,
      }),
    );
  }

  close(): void {
    this.closed = true;
  }
  address(): { port: number; groups: number } {
    if (this.closed) throw new Error('Netlink socket is closed');
    return { port: 4242, groups: 0 };
  }
  addMembership(g: number): void {
    this.groups.push(g);
  }
  setRecvBufferSize(n: number): void {
    this.recvBuffer = Math.min(n, 4 << 20) * 2;
  }
  getRecvBufferSize(): number {
    return this.recvBuffer;
  }
  setSendBufferSize(): void {}
  unref(): void {}
}

/** A factory remembering every socket it made, newest last. */
export function fakeFactory(setup?: (raw: FakeRaw) => void): RawSocketFactory & { sockets: FakeRaw[] } {
  const sockets: FakeRaw[] = [];
  const f = (() => {
    const raw = new FakeRaw();
    setup?.(raw);
    sockets.push(raw);
    return raw;
  }) as unknown as RawSocketFactory & { sockets: FakeRaw[] };
  f.sockets = sockets;
  return f;
}

/** The kernel's answer to a dump: the entries flagged NLM_F_MULTI, then NLMSG_DONE. */
export function dumpReply(
  req: NetlinkMessage,
  entries: Array<{ type: number; flags: number; payload: Buffer }>,
): Buffer[] {
  return [
    ...entries.map((e) =>
      encodeMessage({ type: e.type, flags: e.flags | NLM_F_MULTI, seq: req.seq, payload: e.payload }),
    ),
    encodeMessage({ type: NLMSG_DONE, flags: NLM_F_MULTI, seq: req.seq, payload: Buffer.alloc(4) }),
  ];
}
