import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Refusing a request body without paying for it.
 *
 * Node's HTTP parser calls into JavaScript once per body chunk (`on_body` in
 * src/node_http_parser.cc: a Buffer copy and a MakeCallback, ~1.5 µs on this box), and libuv
 * reads up to 32 × 64 KiB from a ready socket per loop turn. A body of 1-byte chunks (6 bytes
 * on the wire each) therefore costs ~10 ms of event loop per 64 KiB read, wanted or not:
 * 50 such uploads from one machine held every other client for seconds. The parser skips the
 * call when its `kOnBody` slot holds no function, so once a body is refused the rest of it is
 * only scanned by llhttp in C (~1000 times cheaper). The slot is found by the function Node
 * puts there (`parserOnBody`, lib/_http_common.js) and restored when the socket closes, as
 * parsers are pooled. Where a runtime does not have it, the socket is destroyed instead.
 *
 * Reading also stops at once: libuv would otherwise go on reading (and llhttp scanning) up to
 * 2 MiB more from the socket in the same loop turn. A discarded body loses the connection's
 * place in the byte stream, so the connection is closed once the response is sent
 * ({@link closeAfterResponse}), or after {@link DISCARD_GRACE_MS} if no response comes.
 */
export type DiscardReason = 'too_large' | 'tiny_chunks' | 'timeout' | 'too_many_bodies' | 'unread';

const DISCARD_GRACE_MS = 10_000;

interface ReadableHandle {
  readStop?(): number;
  readStart?(): number;
  reading?: boolean;
}

interface ParserLike {
  [slot: string]: unknown;
}

const discarded = new WeakMap<IncomingMessage, DiscardReason>();
let bodySlot: string | null | undefined;

function findBodySlot(parser: ParserLike): string | null {
  if (bodySlot !== undefined) return bodySlot;
  bodySlot = null;
  for (const key of Object.keys(parser)) {
    const v = parser[key];
    if (typeof v === 'function' && v.name === 'parserOnBody') bodySlot = key;
  }
  return bodySlot;
}

/**
 * Stops delivering the rest of `req`'s body to JavaScript and marks the request so that its
 * connection closes after the response. Idempotent; the first reason is kept.
 */
export function discardBody(req: IncomingMessage, reason: DiscardReason): void {
  if (discarded.has(req)) return;
  discarded.set(req, reason);
  const socket = req.socket as Socket & { parser?: ParserLike | null };
  const parser = socket.parser;
  const slot = parser ? findBodySlot(parser) : null;
  if (!parser || slot === null || parser.incoming !== req) {
    if (!req.complete) socket.destroy();
    return;
  }
  const onBody = parser[slot];
  parser[slot] = null;
  stopReading(socket);
  const grace = setTimeout(() => socket.destroy(), DISCARD_GRACE_MS).unref();
  socket.once('close', () => {
    clearTimeout(grace);
    parser[slot] = onBody;
  });
}

/**
 * Stops reading the socket for good (the write side still sends the answer). Node would
 * resume it when the response ends (to read the next request), hence readStart is disabled
 * on this socket's own handle, which is closed soon after.
 */
function stopReading(socket: Socket): void {
  const handle = (socket as unknown as { _handle?: ReadableHandle | null })._handle;
  if (!handle || typeof handle.readStop !== 'function') return;
  handle.readStop();
  handle.reading = false;
  handle.readStart = () => 0;
}

/** Why `req`'s body was discarded, if it was. */
export function discardReason(req: IncomingMessage): DiscardReason | undefined {
  return discarded.get(req);
}

/**
 * Closes the connection once what was written is flushed, when the request's body was
 * discarded or is still arriving: the next bytes would not be a request. (Node's own default
 * is to read and drop an unread body to keep the connection alive, chunk by chunk.)
 */
export function closeAfterResponse(req: IncomingMessage): boolean {
  if (!discarded.has(req) && req.complete) return false;
  if (!req.complete) discardBody(req, 'unread');
  req.socket.destroySoon();
  return true;
}
