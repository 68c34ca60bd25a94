import net from 'node:net';
import type { HostPort } from '../config/listen.js';
import { GatehouseError } from '../errors.js';
import type { Logger } from '../log.js';
import type { TransferRequest } from './answer.js';
import type { DnsEngine } from './engine.js';
import { TcpSlots } from './tcp-slots.js';

export interface TcpLimits {
  idleTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerClient: number;
  maxInFlightPerConnection: number;
}

/** Bytes queued towards a client that does not read before we give up on it. */
const MAX_UNREAD_BYTES = 1 << 20;

export type TransferHandler = (req: TransferRequest) => Buffer[];

export interface TcpCounters {
  rejected(reason: string): void;
  connections(delta: number): void;
}

/**
 * DNS over TCP (RFC 7766): 2-byte length framing, pipelined queries answered as they complete
 * (possibly out of order, §6.2.1.1), an idle timer that runs only while nothing is in flight
 * and is not reset by partial bytes (a slow drip cannot hold a slot), limits on connections
 * overall and per client that close the oldest idle connection rather than refuse the new one
 * (tcp-slots.ts, §6.2.3), and a client that stops reading is disconnected. Zone transfers
 * stream through here with backpressure.
 */
export class DnsTcpServer {
  private readonly servers: net.Server[] = [];
  private readonly slots = new TcpSlots<net.Socket>(() => this.limits);
  private readonly conns = new Set<net.Socket>();

  constructor(
    private readonly engine: DnsEngine,
    private readonly logger: Logger,
    public limits: TcpLimits,
    private readonly transfer: TransferHandler | undefined,
    private readonly counters: TcpCounters,
  ) {}

  async listen(addresses: readonly HostPort[]): Promise<void> {
    for (const a of addresses) {
      const server = net.createServer({ noDelay: true }, (s) => this.accept(s));
      server.on('error', (e) => this.logger.warn('dns.tcp_error', { error: e }));
      await new Promise<void>((resolve, reject) => {
        server.once('error', (e) =>
          reject(
            new GatehouseError(
              'GH_LISTEN_FAILED',
              `DNS cannot listen on tcp ${a.host}:${a.port}: ${e.message}; change dns.listen or free the port`,
            ),
          ),
        );
        server.listen({ host: a.host, port: a.port, exclusive: true }, () => resolve());
      });
      this.servers.push(server);
    }
  }

  addresses(): string[] {
    return this.servers.map((s) => {
      const a = s.address() as net.AddressInfo;
      return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
    });
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  private accept(socket: net.Socket): void {
    const peer = socket.remoteAddress ?? '';
    const admission = this.slots.admit(peer);
    for (const { conn, reason } of admission.evicted) {
      this.counters.rejected(reason);
      conn.destroy();
    }
    if (admission.refused) {
      this.counters.rejected(admission.refused);
      socket.destroy();
      return;
    }
    this.slots.add(peer, socket);
    this.conns.add(socket);
    this.counters.connections(1);
    /** Bytes received and not yet framed, and how many a frame needs before it is worth joining them. */
    let chunks: Buffer[] = [];
    let buffered = 0;
    let needed = 2;
    let inFlight = 0;
    let closed = false;
    let idle: NodeJS.Timeout | undefined;
    const armIdle = () => {
      if (idle) clearTimeout(idle);
      idle = undefined;
      if (inFlight > 0) return;
      idle = setTimeout(() => socket.destroy(), this.limits.idleTimeoutMs);
      this.slots.idle(socket);
    };
    armIdle();
    const write = (b: Buffer): boolean => {
      if (closed) return false;
      const frame = Buffer.allocUnsafe(2 + b.length);
      frame.writeUInt16BE(b.length, 0);
      b.copy(frame, 2);
      return socket.write(frame);
    };
    const done = () => {
      inFlight--;
      if (socket.isPaused() && inFlight < this.limits.maxInFlightPerConnection) socket.resume();
      if (socket.writableLength > MAX_UNREAD_BYTES) {
        this.counters.rejected('unread');
        socket.destroy();
        return;
      }
      armIdle();
    };
    const onMessage = (msg: Buffer) => {
      inFlight++;
      this.slots.busy(socket);
      armIdle();
      if (inFlight >= this.limits.maxInFlightPerConnection) socket.pause();
      const out = this.engine.handle(msg, peer, true);
      if (out === undefined) {
        // RFC 7766 §6.2.2 — nothing sensible to answer on a stream: close it.
        done();
        socket.end();
        return;
      }
      if (out instanceof Promise) {
        out.then(
          (b) => {
            if (b) write(b);
            done();
          },
          () => done(),
        );
        return;
      }
      if ('transfer' in out) {
        void this.stream(out.transfer, write, socket).finally(done);
        return;
      }
      write(out);
      done();
    };
    socket.on('data', (chunk: Buffer) => {
      // Chunks are kept apart until a whole frame is there: a frame dripped in n pieces costs
      // its bytes once, not the n²/2 of re-copying everything received so far at each piece.
      chunks.push(chunk);
      buffered += chunk.length;
      if (buffered < needed) return;
      let buf = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, buffered);
      chunks = [];
      buffered = 0;
      needed = 2;
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (len === 0) {
          this.counters.rejected('zero_length');
          socket.destroy();
          return;
        }
        if (buf.length < 2 + len) {
          needed = 2 + len;
          break;
        }
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        onMessage(Buffer.from(msg));
        if (closed) return;
      }
      if (buf.length > 0) {
        chunks = [buf];
        buffered = buf.length;
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      closed = true;
      if (idle) clearTimeout(idle);
      this.conns.delete(socket);
      this.counters.connections(-1);
      this.slots.remove(socket);
    });
  }

  private async stream(
    req: TransferRequest,
    write: (b: Buffer) => boolean,
    socket: net.Socket,
  ): Promise<void> {
    if (!this.transfer) {
      socket.destroy();
      return;
    }
    let messages: Buffer[];
    try {
      messages = this.transfer(req);
    } catch (e) {
      this.logger.error('dns.transfer_failed', { peer: req.peer, zone: req.zone.zone.name, error: e });
      socket.destroy();
      return;
    }
    for (const m of messages) {
      if (socket.destroyed) return;
      if (!write(m)) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => {
            socket.destroy();
            resolve();
          }, this.limits.idleTimeoutMs);
          socket.once('drain', () => {
            clearTimeout(t);
            resolve();
          });
          socket.once('close', () => {
            clearTimeout(t);
            resolve();
          });
        });
      }
    }
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.destroy();
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    this.servers.length = 0;
  }
}
