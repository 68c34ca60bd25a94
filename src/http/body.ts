import type { IncomingMessage } from 'node:http';
import { GatehouseError } from '../errors.js';
import { discardBody } from './body-discard.js';

/** First allocation; a declared Content-Length preallocates at most this much too. */
const INITIAL_BYTES = 64 * 1024;
/**
 * A body is refused once it has come in more than this many pieces averaging under
 * MIN_AVERAGE_CHUNK bytes: no HTTP client sends a real upload in pieces that small, and each
 * piece costs the event loop a JavaScript call (see body-discard.ts).
 */
const TINY_CHUNK_PIECES = 256;
const MIN_AVERAGE_CHUNK = 256;

/** The client went away before its body was complete: nothing for an operator to do. */
export class ClientAbortedError extends GatehouseError {
  /** nginx's "client closed request": below 500, so API layers do not log it as a fault. */
  readonly status = 499;
  constructor(reason: string) {
    super('GH_CLIENT_ABORTED', `the client closed the connection before sending the whole body (${reason})`);
    this.name = 'ClientAbortedError';
  }
}

export function isClientAbort(e: unknown): e is ClientAbortedError {
  return e instanceof ClientAbortedError;
}

/** Whether the request carries a body (RFC 9112 §6.3: Transfer-Encoding, or a Content-Length above 0). */
export function hasBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const declared = Number(req.headers['content-length']);
  return Number.isFinite(declared) && declared > 0;
}

/**
 * Reads the whole body into one growing buffer, so it costs memory per byte received (at most
 * twice the bytes plus 64 KiB), never per chunk. Refuses, and stops reading, a body over `limit`
 * (GH_PAYLOAD_TOO_LARGE, which the server answers with 413) and a body sent in tiny pieces
 * (GH_BAD_REQUEST, 400). A client that goes away rejects with {@link ClientAbortedError}.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const header = req.headers['content-length'];
    const declared = header === undefined ? undefined : Number(header);
    if (declared !== undefined && Number.isFinite(declared) && declared > limit) {
      discardBody(req, 'too_large');
      reject(
        new GatehouseError(
          'GH_PAYLOAD_TOO_LARGE',
          `request body of ${declared} bytes exceeds the ${limit}-byte limit of this endpoint; send less data per request`,
        ),
      );
      return;
    }
    if (req.readableEnded) {
      resolve(Buffer.alloc(0));
      return;
    }
    const ceiling = declared !== undefined && Number.isFinite(declared) ? declared : limit;
    let buf = Buffer.allocUnsafe(Math.min(ceiling, INITIAL_BYTES));
    let size = 0;
    let pieces = 0;
    let settled = false;
    const done = () => {
      settled = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const refuse = (reason: 'too_large' | 'tiny_chunks', err: GatehouseError) => {
      done();
      discardBody(req, reason);
      reject(err);
    };
    const onData = (chunk: Buffer) => {
      pieces++;
      if (size + chunk.length > limit) {
        refuse(
          'too_large',
          new GatehouseError(
            'GH_PAYLOAD_TOO_LARGE',
            `request body exceeds the ${limit}-byte limit of this endpoint; send less data per request`,
          ),
        );
        return;
      }
      if (pieces > TINY_CHUNK_PIECES && (size + chunk.length) / pieces < MIN_AVERAGE_CHUNK) {
        refuse(
          'tiny_chunks',
          new GatehouseError(
            'GH_BAD_REQUEST',
            `request body arrives in pieces of ${Math.round((size + chunk.length) / pieces)} bytes on average; send chunks of at least ${MIN_AVERAGE_CHUNK} bytes`,
          ),
        );
        return;
      }
      if (size + chunk.length > buf.length) {
        const grown = Buffer.allocUnsafe(Math.min(Math.max(buf.length * 2, size + chunk.length), limit));
        buf.copy(grown, 0, 0, size);
        buf = grown;
      }
      chunk.copy(buf, size);
      size += chunk.length;
    };
    const onEnd = () => {
      done();
      resolve(buf.subarray(0, size));
    };
    const onError = (e: Error) => {
      done();
      // Node fails an unfinished request whose socket closed with ECONNRESET "aborted".
      const aborted = (e as { code?: unknown }).code === 'ECONNRESET' || e.message === 'aborted';
      reject(aborted ? new ClientAbortedError(e.message) : e);
    };
    const onClose = () => {
      if (settled) return;
      done();
      reject(new ClientAbortedError('connection closed'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}
