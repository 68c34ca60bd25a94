/**
 * Child process holding one netlink event socket (see isolated-stream.ts): it opens the
 * subscription given as JSON in argv[2] and forwards every message to its parent over fd 3 as
 * frames [u32 LE length][u8 kind][bytes] — kind 1 a netlink message, kind 2 a JSON control
 * message ({ready}, {error}, {overrun}, {dropped}). If the netlink binding aborts this process
 * on an overrun, the parent notices, counts the loss and starts another one.
 */
import net from 'node:net';
import { createLogger } from '../../log.js';
import { encodeMessage } from './message.js';
import { type SubscriptionSpec, openSubscribedSocket } from './subscription.js';

const FRAME_MESSAGE = 1;
const FRAME_CONTROL = 2;
/** Beyond this much unsent data the parent is not keeping up: drop and say how much. */
const MAX_BACKLOG = 32 * 1024 * 1024;

const spec = JSON.parse(process.argv[2] ?? '{}') as SubscriptionSpec;
const logger = createLogger({ level: 'info', bindings: { part: 'netlink-pump', socket: spec.name } });
const out = new net.Socket({ fd: 3, readable: false, writable: true });
let dropped = 0;

function frame(kind: number, body: Buffer): void {
  if (out.writableLength > MAX_BACKLOG) {
    dropped++;
    return;
  }
  const head = Buffer.alloc(5);
  head.writeUInt32LE(body.length + 1, 0);
  head.writeUInt8(kind, 4);
  out.write(Buffer.concat([head, body]));
}

function control(v: Record<string, unknown>): void {
  frame(FRAME_CONTROL, Buffer.from(JSON.stringify(v)));
}

out.on('drain', () => {
  if (dropped > 0) {
    control({ dropped });
    dropped = 0;
  }
});
out.on('error', () => process.exit(0));
// The parent holds our stdin: when it goes away, so do we.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => process.exit(0));

try {
  const sock = await openSubscribedSocket(spec, logger, {
    onMessage: (m) => frame(FRAME_MESSAGE, encodeMessage(m)),
    onOverrun: () => control({ overrun: 1 }),
    onClosed: (reason) => {
      control({ closed: reason });
      process.exit(3);
    },
  });
  control({ ready: true, recvBufferBytes: sock.recvBufferBytes });
} catch (e) {
  const err = e as { message?: string; code?: string };
  control({ error: err.message ?? String(e), code: err.code });
  out.end(() => process.exit(2));
}
