import { GatehouseError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { NFULNL_COPY, bindGroup, setCopyMode, setQueueing } from '../nflog/codec.js';
import type { EventHandlers, EventStream, EventStreamStats, SubscriptionSpec } from './event-stream.js';
import type { NetlinkMessage } from './message.js';
import { NetlinkSocket, type RawSocketFactory } from './socket.js';

export type { EventHandlers, EventStream, EventStreamStats, SubscriptionSpec } from './event-stream.js';

/** Opens the socket of a subscription in this process and binds what it needs. */
export async function openSubscribedSocket(
  spec: SubscriptionSpec,
  logger: Logger,
  cb: { onMessage: (m: NetlinkMessage) => void; onOverrun: () => void; onClosed: (reason: string) => void },
  rawFactory?: RawSocketFactory,
): Promise<NetlinkSocket> {
  const sock = new NetlinkSocket({
    name: spec.name,
    logger,
    rawFactory,
    recvBufferBytes: spec.recvBufferBytes,
    groups: spec.kind === 'groups' ? spec.groups : [],
    onMessage: cb.onMessage,
    onOverrun: cb.onOverrun,
    onClosed: cb.onClosed,
  });
  if (spec.kind === 'nflog') {
    try {
      await sock.request(bindGroup(spec.group));
      await sock.request(setCopyMode(spec.group, NFULNL_COPY.PACKET, spec.copyRange));
      await sock.request(setQueueing(spec.group, spec.qthreshold, spec.timeoutCs));
    } catch (e) {
      sock.close();
      throw e;
    }
  }
  return sock;
}

/**
 * The subscription's socket in this process. Safe against listener exceptions and recv
 * ENOBUFS, but NOT against the binding's POLLERR path (see isolated-stream.ts): use it with
 * fake kernels in tests, or where a crash would be acceptable.
 */
export async function openInlineStream(
  spec: SubscriptionSpec,
  handlers: EventHandlers,
  logger: Logger,
  rawFactory?: RawSocketFactory,
): Promise<EventStream> {
  const stats: EventStreamStats = { messages: 0, overruns: 0, restarts: 0, recvBufferBytes: 0 };
  let closed = false;
  let sock: NetlinkSocket | undefined;
  let reopenTimer: NodeJS.Timeout | undefined;
  const open = async () => {
    sock = await openSubscribedSocket(
      spec,
      logger,
      {
        onMessage: (m) => {
          stats.messages++;
          handlers.onMessage(m);
        },
        onOverrun: () => {
          stats.overruns++;
          handlers.onLoss('overrun', 'the kernel dropped messages (ENOBUFS)');
        },
        onClosed: (reason) => {
          if (closed) return;
          stats.restarts++;
          // Reported once reopened, so a resync dump covers the whole gap.
          reopenTimer = setTimeout(() => {
            open().then(
              () => handlers.onLoss('restart', `socket closed: ${reason}`),
              (e: unknown) => logger.error('netlink.reopen_failed', { socket: spec.name, error: e }),
            );
          }, 100);
        },
      },
      rawFactory,
    );
    stats.recvBufferBytes = sock.recvBufferBytes;
  };
  await open();
  return {
    stats,
    async close() {
      closed = true;
      if (reopenTimer) clearTimeout(reopenTimer);
      sock?.close();
    },
  };
}

export function subscriptionError(spec: SubscriptionSpec, message: string, code?: string): GatehouseError {
  return new GatehouseError(
    code === 'GH_NETLINK_TIMEOUT' ? code : 'GH_NETLINK',
    `netlink subscription ${spec.name}: ${message}`,
    { subscription: spec.name },
  );
}

/**
 * Opens a subscription: in a helper process by default (isolated-stream.ts explains why), in
 * this process when a fake kernel is given or `isolate` is false.
 */
export async function openEventStream(
  spec: SubscriptionSpec,
  handlers: EventHandlers,
  opts: { logger: Logger; rawFactory?: RawSocketFactory; isolate?: boolean },
): Promise<EventStream> {
  if (opts.rawFactory || opts.isolate === false)
    return openInlineStream(spec, handlers, opts.logger, opts.rawFactory);
  const { openIsolatedStream } = await import('./isolated-stream.js');
  return openIsolatedStream(spec, handlers, opts.logger);
}
