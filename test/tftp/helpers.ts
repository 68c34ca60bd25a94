import crypto from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import type { GatehouseConfigInput } from '../../src/config/index.js';
import type { TftpServer } from '../../src/tftp/server.js';
import type { PoolEvents } from '../../src/tftp/worker-pool.js';
import type { TftpService } from '../../src/tftp/service.js';
import { startGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { tempDir } from '../helpers/tmp.js';

type T = Parameters<typeof tempDir>[0];

/**
 * Worker-pool events that do nothing but keep the names of the events logged (in `logged`), with
 * `overrides` for the ones a test watches.
 */
export function loggingPoolEvents(overrides: Partial<PoolEvents> = {}): PoolEvents & { logged: string[] } {
  const logged: string[] = [];
  return {
    logged,
    confirmed() {},
    finished() {},
    setupFailed() {},
    stats() {},
    lost() {},
    log: (_level, event) => logged.push(event),
    restarted() {},
    resized() {},
    ...overrides,
  };
}

/** A TFTP root with deterministic pseudo-random files: name -> size. */
export function makeRoot(
  t: T,
  files: Record<string, number>,
): { root: string; bytes: Record<string, Buffer> } {
  const root = path.join(tempDir(t, 'ghtftp-root-'), 'tftp');
  fs.mkdirSync(root);
  // Real clients may run as another user in some setups; keep the root world-readable like /srv/tftp.
  fs.chmodSync(path.dirname(root), 0o755);
  const bytes: Record<string, Buffer> = {};
  for (const [name, size] of Object.entries(files)) {
    const data = pseudoRandom(size, name);
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    fs.writeFileSync(path.join(root, name), data, { mode: 0o644 });
    bytes[name] = data;
  }
  return { root, bytes };
}

/** Deterministic incompressible bytes (AES-CTR keystream keyed by `seed`). */
export function pseudoRandom(size: number, seed: string): Buffer {
  const key = crypto.createHash('sha256').update(seed).digest().subarray(0, 16);
  const cipher = crypto.createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(Buffer.alloc(size)), cipher.final()]);
}

export interface TftpHarness {
  gh: TestGatehouse;
  server: TftpServer;
  port: number;
  metrics(): Promise<string>;
}

export async function startTftp(
  t: T,
  tftp: NonNullable<NonNullable<GatehouseConfigInput>['tftp']>,
): Promise<TftpHarness> {
  const gh = await startGatehouse(t, { tftp });
  const service = gh.app.service<TftpService>('tftp');
  if (!service) throw new Error('tftp service did not start');
  const server = service.server;
  return { gh, server, port: server.addresses()[0]!.port, metrics: () => gh.app.metrics.text() };
}

/** Value of one Prometheus sample, e.g. metric(text, 'gatehouse_tftp_transfers_total', { result: 'ok' }). */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  const want = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    if ((m[2] ?? '') === want) return Number(m[3]);
  }
  return 0;
}

/** Resolves when `cond()` holds, polling every 10 ms; rejects after `timeoutMs`. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A bare UDP peer for hand-made exchanges: queued receive with a bounded wait. */
export class RawPeer {
  readonly socket: dgram.Socket;
  private readonly queue: Array<{ msg: Buffer; rinfo: dgram.RemoteInfo }> = [];
  private waiter: (() => void) | undefined;

  private constructor(socket: dgram.Socket) {
    this.socket = socket;
    socket.on('message', (msg, rinfo) => {
      this.queue.push({ msg, rinfo });
      this.waiter?.();
    });
    socket.on('error', () => {});
  }

  static async open(t: T, address = '127.0.0.1'): Promise<RawPeer> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind({ address, port: 0 }, resolve));
    const peer = new RawPeer(socket);
    t.teardown(() => peer.close());
    return peer;
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(buf: Buffer, port: number, address = '127.0.0.1'): Promise<void> {
    return new Promise((resolve) => this.socket.send(buf, port, address, () => resolve()));
  }

  async next(timeoutMs = 2000): Promise<{ msg: Buffer; rinfo: dgram.RemoteInfo }> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no datagram within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return this.queue.shift()!;
  }

  /** Datagrams received and not consumed yet. */
  pending(): number {
    return this.queue.length;
  }

  close(): void {
    try {
      this.socket.close();
    } catch {
      // closed
    }
  }
}
