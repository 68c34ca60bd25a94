/**
 * The datagram path of one transfer: a UDP socket bound to the local address the request arrived
 * on and connect()ed to the client (RFC 1350 TIDs; the kernel then drops datagrams from anyone
 * else and reports the client's ICMP port-unreachable as ECONNREFUSED).
 *
 * Two implementations behind one interface:
 * - the fast one sends and receives through the socket's bound libuv handle
 *   (`udpFastPath(socket).sendConnected` / `.onDatagram`, src/net/udp-fast-path.ts: no per-send
 *   argument juggling, address lookup or `process.nextTick`). A DATA packet goes out as two
 *   pieces (4-byte header, payload view into the cached file) gathered by sendmsg(2): the
 *   payload is never copied in JavaScript, and the header is reused for as long as the kernel
 *   takes each datagram synchronously (the usual case);
 * - the `node:dgram` one, kept for runtimes where the handle is not reachable or when
 *   `GATEHOUSE_DGRAM_ONLY=1` (then every send counts as queued: nothing is reused).
 */
import type dgram from 'node:dgram';
import { type UdpFastPath, udpFastPath } from '../net/udp-fast-path.js';

export interface TransferChannel {
  /** True when sends go through the libuv handle directly. */
  readonly fast: boolean;
  /**
   * Sends one datagram made of `head` followed by `body` (if any). Returns a positive number
   * when the kernel took it before returning (both buffers may be reused at once), 0 when it was
   * queued (the buffers must stay untouched), or a negative errno.
   */
  send(head: Uint8Array, body?: Uint8Array): number;
  onDatagram(fn: (msg: Buffer) => void): void;
  /** Socket errors, receive side included (ECONNREFUSED when the client's port is closed). */
  onError(fn: (e: NodeJS.ErrnoException) => void): void;
  close(): void;
}

/** What a channel needs of its socket: a bound, connected `dgram.Socket` (or warmup.ts's stand-in). */
export interface ChannelSocket {
  on(event: 'error', fn: (e: NodeJS.ErrnoException) => void): unknown;
  close(): unknown;
}

/** The channel of a socket that is already bound and connected. */
export function openChannel(socket: dgram.Socket): TransferChannel {
  const fast = udpFastPath(socket);
  return fast ? fastChannel(socket, fast) : dgramChannel(socket);
}

/**
 * Exported for the warm-up (warmup.ts), which drives this very code with an in-memory client so
 * that V8 compiles it with the shapes a real transfer has.
 */
export function fastChannel(
  socket: ChannelSocket,
  fast: Pick<UdpFastPath, 'sendConnected' | 'onDatagram'>,
): TransferChannel {
  const one: Uint8Array[] = [new Uint8Array(0)];
  const two: Uint8Array[] = [new Uint8Array(0), new Uint8Array(0)];
  return {
    fast: true,
    send(head, body) {
      if (body === undefined) {
        one[0] = head;
        return fast.sendConnected(one);
      }
      two[0] = head;
      two[1] = body;
      return fast.sendConnected(two);
    },
    onDatagram(fn) {
      fast.onDatagram((msg) => fn(msg));
    },
    onError(fn) {
      socket.on('error', fn);
    },
    close() {
      closeQuietly(socket);
    },
  };
}

function dgramChannel(socket: dgram.Socket): TransferChannel {
  return {
    fast: false,
    send(head, body) {
      socket.send(body === undefined ? head : [head, body]);
      return 0;
    },
    onDatagram(fn) {
      socket.on('message', (msg) => fn(msg));
    },
    onError(fn) {
      socket.on('error', fn);
    },
    close() {
      closeQuietly(socket);
    },
  };
}

export function closeQuietly(socket: ChannelSocket): void {
  try {
    socket.close();
  } catch {
    // never bound, or already closed
  }
}
