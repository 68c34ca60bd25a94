/**
 * A small TFTP read client (RFC 1350 + 2347/2348/2349 + 7440 windowsize), for tests, the bench
 * and operator self-checks. It can simulate packet loss and a client that vanishes.
 *
 * As an RFC 7440 receiver it acknowledges the last block of each window, the final block, and,
 * once per gap, the last in-order block when a block is missing (the sender then goes back).
 */
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { type UdpFastPath, udpFastPath } from '../net/udp-fast-path.js';
import { decodePacket, encodeAck, encodeError, encodeRequest, type TftpOption } from './codec.js';

export interface TftpGetOptions {
  host: string;
  port: number;
  file: string;
  mode?: 'octet' | 'netascii';
  /** RFC 2347 options to ask for, e.g. { blksize: 1468, tsize: 0, windowsize: 16 }. */
  options?: Record<string, string | number>;
  /** Retransmission interval of the client (ms). */
  timeoutMs?: number;
  retries?: number;
  /** Local address to send from (e.g. 127.0.0.2 to look like another client). */
  localAddress?: string;
  /** Keep the bytes (default) or only count them (bench). */
  keepData?: boolean;
  /** Loss simulation: return true to drop the datagram. */
  dropIncoming?: () => boolean;
  dropOutgoing?: () => boolean;
  /** Stop answering (close the socket without a word) after receiving this many DATA blocks. */
  vanishAfterBlocks?: number;
  /** Send WRQ instead of RRQ (to test refusal). */
  write?: boolean;
  /**
   * How long the socket stays open after the final ACK to acknowledge the final block again if
   * the server repeats it (our ACK was lost). RFC 1350 §6 encourages this "dallying": without
   * it a lost final ACK leaves the server retransmitting until its retries run out.
   * Default: 2 × timeoutMs. The result is delivered at once either way.
   */
  dallyMs?: number;
}

export interface TftpGetResult {
  data: Buffer;
  bytes: number;
  /** Options the server acknowledged, or null when it answered with DATA directly. */
  oack: Record<string, string> | null;
  server: { address: string; port: number };
  blocks: number;
  /** ACKs and RRQs sent again after a client-side timeout. */
  retransmissions: number;
}

export class TftpClientError extends Error {
  constructor(
    message: string,
    /** TFTP error code from the server, or -1 for a client-side failure (timeout). */
    readonly code: number,
    readonly server?: { address: string; port: number },
  ) {
    super(message);
    this.name = 'TftpClientError';
  }
}

export function tftpGet(opts: TftpGetOptions): Promise<TftpGetResult> {
  const timeoutMs = opts.timeoutMs ?? 1000;
  const retries = opts.retries ?? 5;
  const keep = opts.keepData ?? true;
  const socket = dgram.createSocket(isIPv6(opts.host) ? 'udp6' : 'udp4');
  const options: TftpOption[] = Object.entries(opts.options ?? {}).map(([name, value]) => ({
    name,
    value: String(value),
  }));
  const request = encodeRequest({
    op: opts.write ? 'WRQ' : 'RRQ',
    filename: opts.file,
    mode: opts.mode ?? 'octet',
    options,
  });

  return new Promise<TftpGetResult>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let blksize = 512;
    let windowsize = 1;
    let expected = 1; // next block number, unbounded; wire = expected & 0xffff
    let inWindow = 0;
    let gapAcked = false;
    let server: { address: string; port: number } | undefined;
    let oack: Record<string, string> | null = null;
    let lastSent: Buffer = request;
    let timeouts = 0;
    let retransmissions = 0;
    let blocks = 0;
    let timer: NodeJS.Timeout | undefined;
    let finished = false;
    // Set once the socket is bound: the storm bench runs a thousand of these clients in one
    // process, where dgram's per-datagram send and 'message' overhead is a good part of the
    // load generator's CPU, which shares the box's two cores with the server it measures.
    let fast: UdpFastPath | undefined;

    let dallyBlock = -1;
    const close = () => {
      try {
        socket.close();
      } catch {
        // closed
      }
    };
    const end = (err: Error | undefined, result?: TftpGetResult, dally = false) => {
      if (finished) return;
      finished = true;
      if (timer) clearTimeout(timer);
      const dallyMs = opts.dallyMs ?? 2 * timeoutMs;
      if (dally && dallyMs > 0) {
        dallyBlock = (expected - 1) & 0xffff;
        // Neither the socket nor the timer keeps a finished program alive.
        socket.unref();
        setTimeout(close, dallyMs).unref();
      } else close();
      if (err) reject(err);
      else resolve(result!);
    };
    // One timer per transfer, re-armed in place: a new Timeout per block costs more.
    const arm = () => {
      if (timer) timer.refresh();
      else timer = setTimeout(onTimeout, timeoutMs);
    };
    const send = (buf: Buffer, then?: () => void) => {
      lastSent = buf;
      if (opts.dropOutgoing?.()) {
        then?.();
        return;
      }
      const port = server ? server.port : opts.port;
      const address = server ? server.address : opts.host;
      // `then` runs once the datagram has left: closing the socket earlier would discard it.
      // The fast path has no completion callback, so a send that needs one goes through dgram.
      if (fast && !then) fast.send(buf, port, address);
      else socket.send(buf, port, address, then && (() => then()));
    };
    const onTimeout = () => {
      if (finished) return;
      if (++timeouts > retries) {
        end(
          new TftpClientError(
            `timed out waiting for ${server ? `block ${expected}` : 'a reply'}`,
            -1,
            server,
          ),
        );
        return;
      }
      retransmissions++;
      send(lastSent);
      arm();
    };
    const ack = (block: number, then?: () => void) => send(encodeAck(block & 0xffff), then);

    socket.on('error', (e) => end(e));
    const onMessage = (msg: Buffer, rinfo: { address: string; port: number }) => {
      if (opts.dropIncoming?.()) return;
      if (finished) {
        // Dallying: the server repeated the final block, so our final ACK was lost.
        const d = dallyBlock >= 0 && server && rinfo.port === server.port ? decodePacket(msg) : undefined;
        if (d?.ok && d.packet.op === 'DATA' && d.packet.block === dallyBlock) send(encodeAck(dallyBlock));
        return;
      }
      if (server && (rinfo.port !== server.port || rinfo.address !== server.address)) {
        // RFC 1350: a packet from another TID gets error 5 and does not disturb the transfer.
        socket.send(encodeError(5, 'Unknown transfer ID'), rinfo.port, rinfo.address);
        return;
      }
      const d = decodePacket(msg);
      if (!d.ok) return;
      const p = d.packet;
      if (!server) server = { address: rinfo.address, port: rinfo.port };
      timeouts = 0;
      switch (p.op) {
        case 'ERROR':
          end(new TftpClientError(`server error ${p.code}: ${p.message}`, p.code, server));
          return;
        case 'OACK': {
          if (expected !== 1 || oack) {
            ack(0); // our ACK 0 was lost: the server repeated its OACK
            arm();
            return;
          }
          oack = {};
          for (const o of p.options) oack[o.name] = o.value;
          if (oack.blksize) blksize = Number(oack.blksize);
          if (oack.windowsize) windowsize = Number(oack.windowsize);
          ack(0);
          arm();
          return;
        }
        case 'DATA': {
          if (p.block === (expected & 0xffff)) {
            blocks++;
            bytes += p.data.length;
            if (keep) chunks.push(Buffer.from(p.data));
            expected++;
            inWindow++;
            gapAcked = false;
            if (opts.vanishAfterBlocks !== undefined && blocks >= opts.vanishAfterBlocks) {
              end(undefined, { data: Buffer.alloc(0), bytes, oack, server, blocks, retransmissions });
              return;
            }
            if (p.data.length < blksize) {
              const result = {
                data: keep ? Buffer.concat(chunks) : Buffer.alloc(0),
                bytes,
                oack,
                server,
                blocks,
                retransmissions,
              };
              if (timer) clearTimeout(timer);
              ack(expected - 1, () => end(undefined, result, true));
              return;
            }
            if (inWindow >= windowsize) {
              inWindow = 0;
              ack(expected - 1);
            }
            arm();
          } else {
            // A repeat of our last block means our ACK was lost: acknowledge it again (RFC 1350
            // receivers do; the server ignores duplicates). A block beyond the expected one means
            // a gap: report it once (RFC 7440 §4), the sender goes back.
            const last = (expected - 1) & 0xffff;
            const ahead = ((p.block - (expected & 0xffff) + 0x10000) & 0xffff) < 0x8000;
            if (p.block === last || (ahead && !gapAcked)) {
              if (p.block !== last) gapAcked = true;
              inWindow = 0;
              ack(expected - 1);
              arm();
            }
          }
          return;
        }
        default:
          return;
      }
    };
    const start = () => {
      fast = udpFastPath(socket);
      if (fast) fast.onDatagram((msg, address, port) => onMessage(msg, { address, port }));
      else socket.on('message', onMessage);
      send(request);
      arm();
    };
    socket.bind({ address: opts.localAddress ?? (isIPv6(opts.host) ? '::' : '0.0.0.0'), port: 0 }, start);
  });
}
