import dgram from 'node:dgram';

/** A UDP peer that plays a relay agent (or a broken client) against the relay-only socket. */
export class RelayPeer {
  private readonly socket = dgram.createSocket('udp4');
  private readonly queue: Buffer[] = [];
  private waiter: ((b: Buffer) => void) | undefined;

  static async open(): Promise<RelayPeer> {
    const p = new RelayPeer();
    await new Promise<void>((resolve) => p.socket.bind(0, '127.0.0.1', () => resolve()));
    p.socket.on('message', (m) => {
      if (p.waiter) {
        const w = p.waiter;
        p.waiter = undefined;
        w(m);
      } else {
        p.queue.push(m);
      }
    });
    return p;
  }

  send(bytes: Uint8Array, port: number): void {
    this.socket.send(bytes, port, '127.0.0.1');
  }

  /** The next datagram, or undefined after `timeoutMs`. */
  next(timeoutMs = 2000): Promise<Buffer | undefined> {
    const q = this.queue.shift();
    if (q) return Promise.resolve(q);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve(undefined);
      }, timeoutMs);
      this.waiter = (b) => {
        clearTimeout(timer);
        resolve(b);
      };
    });
  }

  /** Sends and waits for one answer. */
  async exchange(bytes: Uint8Array, port: number, timeoutMs = 2000): Promise<Buffer | undefined> {
    this.send(bytes, port);
    return this.next(timeoutMs);
  }

  close(): void {
    this.socket.close();
  }
}
