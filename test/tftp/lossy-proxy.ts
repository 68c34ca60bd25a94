import dgram from 'node:dgram';

/**
 * A UDP relay that drops datagrams at random, for loss tests without netem. A client talks to
 * the proxy's port; the proxy relays to the server through one upstream socket per client and
 * follows the server's reply port (the transfer TID), so the client sees every reply coming
 * from the proxy's port. Every datagram in both directions, requests included, is dropped with
 * probability `loss` (xorshift PRNG, seeded: the drop pattern depends on the seed and the
 * order in which datagrams arrive).
 */
export interface LossyProxyOptions {
  /** Extra, deterministic drops of server datagrams (e.g. the first copies of one DATA block). */
  dropToClient?: (msg: Buffer) => boolean;
  /** Drop only what the server sends (the clients' side of a storm's loss); default both ways. */
  toClientOnly?: boolean;
}

export class LossyProxy {
  readonly dropped = { toServer: 0, toClient: 0 };
  readonly relayed = { toServer: 0, toClient: 0 };
  /**
   * Longest wait, over all clients, between two DATA datagrams that brought a client a new block
   * (ms): the longest stall a client saw.
   */
  maxStallMs = 0;
  private readonly front = dgram.createSocket('udp4');
  private readonly upstream = new Map<string, { socket: dgram.Socket; serverPort: number }>();
  private state: number;

  private constructor(
    private readonly serverPort: number,
    private readonly loss: number,
    seed: number,
    private readonly opts: LossyProxyOptions,
  ) {
    this.state = seed >>> 0 || 1;
  }

  static async start(
    serverPort: number,
    loss: number,
    seed = 12345,
    opts: LossyProxyOptions = {},
  ): Promise<LossyProxy> {
    const p = new LossyProxy(serverPort, loss, seed, opts);
    await new Promise<void>((resolve) => p.front.bind({ address: '127.0.0.1', port: 0 }, resolve));
    p.front.on('message', (msg, rinfo) => p.fromClient(msg, rinfo));
    p.front.on('error', () => {});
    return p;
  }

  get port(): number {
    return this.front.address().port;
  }

  private drop(): boolean {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state / 2 ** 32 < this.loss;
  }

  private fromClient(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const key = `${rinfo.address}:${rinfo.port}`;
    let up = this.upstream.get(key);
    if (!up) {
      const socket = dgram.createSocket('udp4');
      const entry = { socket, serverPort: this.serverPort };
      let lastBlock = 0;
      let lastNewAt = -1;
      socket.on('message', (reply, from) => {
        entry.serverPort = from.port; // follow the transfer's TID
        if (this.opts.dropToClient?.(reply) || this.drop()) {
          this.dropped.toClient++;
          return;
        }
        this.relayed.toClient++;
        if (reply.readUInt16BE(0) === 3 && reply.length >= 4 && reply.readUInt16BE(2) !== lastBlock) {
          const now = performance.now();
          if (lastNewAt >= 0) this.maxStallMs = Math.max(this.maxStallMs, now - lastNewAt);
          lastNewAt = now;
          lastBlock = reply.readUInt16BE(2);
        }
        this.front.send(reply, rinfo.port, rinfo.address);
      });
      socket.on('error', () => {});
      socket.bind({ address: '127.0.0.1', port: 0 });
      up = entry;
      this.upstream.set(key, up);
    }
    if (!this.opts.toClientOnly && this.drop()) {
      this.dropped.toServer++;
      return;
    }
    this.relayed.toServer++;
    up.socket.send(msg, up.serverPort, '127.0.0.1');
  }

  close(): void {
    for (const u of this.upstream.values()) {
      try {
        u.socket.close();
      } catch {
        // closed
      }
    }
    try {
      this.front.close();
    } catch {
      // closed
    }
  }
}
