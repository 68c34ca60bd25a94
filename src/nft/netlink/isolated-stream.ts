import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { GatehouseError, errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import { decodeMessages } from './message.js';
import type { EventHandlers, EventStream, EventStreamStats, SubscriptionSpec } from './event-stream.js';

/**
 * An event subscription whose socket lives in a child process (pump-child.ts).
 *
 * Why: when an event socket overruns, the kernel sets the socket error and poll reports
 * POLLERR; libuv hands that to netlink@0.3.0's poll handler, which builds its error object with
 * a NULL syscall name — node-addon-api throws from native code and the process aborts
 * ("terminate called after throwing an instance of 'Napi::Error'"), before any JavaScript runs.
 * Reproduced here with a 16 KiB buffer and a few thousand new flows; big buffers make it rare,
 * not impossible, and a contestant can flood new connections. In a child, the abort costs
 * only that child: we count the loss, tell the consumer (which resyncs), and start another.
 */
const FRAME_MESSAGE = 1;
const FRAME_CONTROL = 2;

function childEntry(): { file: string; execArgv: string[] } {
  const self = fileURLToPath(import.meta.url);
  const ext = path.extname(self);
  const file = path.join(path.dirname(self), `pump-child${ext}`);
  // Running from TypeScript sources (dev, tests): the child needs the same loader.
  const execArgv = ext === '.ts' ? ['--import', import.meta.resolve('tsx')] : [];
  return { file, execArgv };
}

export async function openIsolatedStream(
  spec: SubscriptionSpec,
  handlers: EventHandlers,
  logger: Logger,
): Promise<EventStream> {
  const stats: EventStreamStats = { messages: 0, overruns: 0, restarts: 0, recvBufferBytes: 0 };
  const log = logger.child({ socket: spec.name });
  let child: ChildProcess | undefined;
  let closed = false;
  let respawnTimer: NodeJS.Timeout | undefined;
  let quickDeaths = 0;

  const start = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const { file, execArgv } = childEntry();
      const startedAt = Date.now();
      const c = spawn(process.execPath, [...execArgv, file, JSON.stringify(spec)], {
        stdio: ['pipe', 'inherit', 'inherit', 'pipe'],
      });
      child = c;
      let ready = false;
      let pending: Buffer = Buffer.alloc(0);
      const timer = setTimeout(() => {
        if (!ready) {
          c.kill('SIGKILL');
          reject(
            new GatehouseError(
              'GH_NETLINK_TIMEOUT',
              `netlink subscription ${spec.name}: its helper process did not start within 15 s`,
            ),
          );
        }
      }, 15_000);
      const onControl = (v: Record<string, unknown>) => {
        if (v.ready) {
          ready = true;
          clearTimeout(timer);
          stats.recvBufferBytes = Number(v.recvBufferBytes ?? 0);
          resolve();
        } else if (v.error !== undefined) {
          clearTimeout(timer);
          reject(
            new GatehouseError(typeof v.code === 'string' ? v.code : 'GH_NETLINK', String(v.error), {
              subscription: spec.name,
            }),
          );
        } else if (v.overrun) {
          stats.overruns++;
          handlers.onLoss('overrun', 'the kernel dropped messages (ENOBUFS)');
        } else if (v.dropped) {
          stats.overruns++;
          handlers.onLoss(
            'overrun',
            `${v.dropped} message(s) dropped between the helper process and Gatehouse`,
          );
        }
      };
      (c.stdio[3] as Readable).on('data', (chunk: Buffer) => {
        try {
          pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
          let off = 0;
          while (pending.length - off >= 5) {
            const len = pending.readUInt32LE(off);
            if (pending.length - off - 4 < len) break;
            const kind = pending.readUInt8(off + 4);
            const body = pending.subarray(off + 5, off + 4 + len);
            off += 4 + len;
            if (kind === FRAME_MESSAGE) {
              for (const m of decodeMessages(body)) {
                stats.messages++;
                try {
                  handlers.onMessage(m);
                } catch (e) {
                  log.error('netlink.listener_failed', { error: errorMessage(e) });
                }
              }
            } else if (kind === FRAME_CONTROL) {
              onControl(JSON.parse(body.toString('utf8')) as Record<string, unknown>);
            }
          }
          pending = off === pending.length ? Buffer.alloc(0) : pending.subarray(off);
        } catch (e) {
          log.error('netlink.pump_protocol_error', { error: errorMessage(e) });
          c.kill('SIGKILL');
        }
      });
      c.on('error', (e) => {
        clearTimeout(timer);
        if (!ready)
          reject(
            new GatehouseError(
              'GH_NETLINK',
              `netlink subscription ${spec.name}: cannot start its helper process: ${e.message}`,
            ),
          );
      });
      c.on('exit', (code, signal) => {
        clearTimeout(timer);
        if (!ready) {
          reject(
            new GatehouseError(
              'GH_NETLINK',
              `netlink subscription ${spec.name}: helper process exited (${signal ?? code}) before it was ready`,
            ),
          );
          return;
        }
        if (closed || child !== c) return;
        stats.restarts++;
        quickDeaths = Date.now() - startedAt < 5000 ? quickDeaths + 1 : 0;
        const delay = Math.min(5000, 100 * 2 ** Math.min(quickDeaths, 6));
        log.warn('netlink.pump_died', {
          exit: signal ?? code,
          action: `restarting in ${delay} ms`,
          note: 'events until then are lost; the consumer resyncs once resubscribed',
        });
        respawn(delay, `helper process died (${signal ?? code})`);
      });
    });

  // The loss is reported once the new socket listens, so that a consumer's resync dump covers
  // everything it missed (a dump taken before would miss what happened in between).
  const respawn = (delay: number, why: string): void => {
    respawnTimer = setTimeout(() => {
      respawnTimer = undefined;
      if (closed) return;
      start().then(
        () => handlers.onLoss('restart', why),
        (e: unknown) => {
          quickDeaths++;
          log.error('netlink.pump_restart_failed', { error: errorMessage(e), action: 'retrying' });
          respawn(Math.min(5000, 100 * 2 ** Math.min(quickDeaths, 6)), why);
        },
      );
    }, delay);
  };

  await start();
  return {
    stats,
    close: async () => {
      closed = true;
      if (respawnTimer) clearTimeout(respawnTimer);
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        const kill = setTimeout(() => c.kill('SIGKILL'), 2000);
        c.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        c.kill('SIGTERM');
      });
    },
  };
}
