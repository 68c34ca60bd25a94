/**
 * The datagram path of one transfer: a UDP socket bound to the local address the request arrived
 * on and connect()ed to the client (RFC 1350 TIDs; the kernel then drops datagrams from anyone
 * else and reports the client's ICMP port-unreachable as ECONNREFUSED).
 *
 * Two implementations behind one interface:
 * - the fast one sends through the socket's bound libuv handle (what `node:dgram` itself calls,
 *   minus the per-send argument juggling, address lookup and `process.nextTick`), and receives
 *   through `udpFastPath(socket).onDatagram` (src/net/udp-fast-path.ts). `udpFastPath.send`
 *   takes a destination address, which a connected socket refuses (EISCONN), so the connected
 *   form of the handle's `send(req, list, count, hasCallback)` is called here. A DATA packet goes
 *   out as two pieces (4-byte header, payload view into the cached file) gathered by sendmsg(2):
 *   the payload is never copied in JavaScript, and the header and the request object are reused
 *   for as long as the kernel takes each datagram synchronously (the usual case);
 * - the `node:dgram` one, kept for runtimes where the handle is not reachable or when
 *   `GATEHOUSE_DGRAM_ONLY=1` (then every send counts as queued: nothing is reused).
 */
import type dgram from 'node:dgram';
import { udpFastPath } from '../net/udp-fast-path.js';

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

interface ConnectedUdpHandle {
  send(req: object, list: Uint8Array[], count: number, hasCallback: boolean): number;
}

type SendWrapConstructor = new () => { list?: unknown };

let sendWrap: SendWrapConstructor | null | undefined;

function loadSendWrap(): SendWrapConstructor | null {
  if (sendWrap !== undefined) return sendWrap;
  sendWrap = null;
  try {
    const binding = (process as unknown as { binding(name: string): { SendWrap?: unknown } }).binding(
      'udp_wrap',
    );
    if (typeof binding.SendWrap === 'function') sendWrap = binding.SendWrap as SendWrapConstructor;
  } catch {
    /* not available on this runtime: dgram it is */
  }
  return sendWrap;
}

function connectedHandle(socket: dgram.Socket): ConnectedUdpHandle | undefined {
  for (const sym of Object.getOwnPropertySymbols(socket)) {
    if (sym.description !== 'state symbol') continue;
    const state = (socket as unknown as Record<symbol, { handle?: unknown }>)[sym];
    const handle = state?.handle as Partial<ConnectedUdpHandle> | undefined;
    if (handle && typeof handle.send === 'function') return handle as ConnectedUdpHandle;
  }
  return undefined;
}

/** The channel of a socket that is already bound and connected. */
export function openChannel(socket: dgram.Socket): TransferChannel {
  const fastRecv = udpFastPath(socket);
  const SendWrap = loadSendWrap();
  const handle = connectedHandle(socket);
  if (fastRecv && SendWrap && handle) return fastChannel(socket, handle, SendWrap, fastRecv);
  return dgramChannel(socket);
}

function fastChannel(
  socket: dgram.Socket,
  handle: ConnectedUdpHandle,
  SendWrap: SendWrapConstructor,
  recv: NonNullable<ReturnType<typeof udpFastPath>>,
): TransferChannel {
  const one: Uint8Array[] = [new Uint8Array(0)];
  const two: Uint8Array[] = [new Uint8Array(0), new Uint8Array(0)];
  // The request object only matters when libuv queues the datagram: it then becomes the
  // pending request and must not be reused; a synchronous send leaves it untouched.
  let req = new SendWrap();
  return {
    fast: true,
    send(head, body) {
      let list: Uint8Array[];
      if (body === undefined) {
        one[0] = head;
        list = one;
      } else {
        two[0] = head;
        two[1] = body;
        list = two;
      }
      const ret = handle.send(req, list, list.length, false);
      if (ret === 0) {
        // Queued: the pending request keeps the buffers alive until the kernel takes them.
        req.list = body === undefined ? [head] : [head, body];
        req = new SendWrap();
      }
      return ret;
    },
    onDatagram(fn) {
      recv.onDatagram((msg) => fn(msg));
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

export function closeQuietly(socket: dgram.Socket): void {
  try {
    socket.close();
  } catch {
    // never bound, or already closed
  }
}
