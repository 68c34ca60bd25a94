import { z } from 'zod';
import { listenAddress } from '../config/listen.js';

export const httpConfigSchema = z
  .strictObject({
    /** One or more listen addresses; production listens on :80 of the LAN addresses. */
    listen: z.array(listenAddress).min(1).default(['127.0.0.1:8080']),
    /**
     * listen(2) backlog: connections the kernel completes and queues before Gatehouse accepts
     * them. A 1000-machine boot storm overflows Node's default (511); nginx uses 4096 here.
     * The kernel caps it at `net.core.somaxconn` (see docs/operations.md).
     */
    listenBacklog: z.number().int().min(1).max(1_048_576).default(4096),
    /**
     * iPXE exchanges (`GET /bootstrap` + `GET /boot/<mac>/` on one keep-alive connection) run at
     * start through throwaway copies of the netboot host on 127.0.0.1, so V8 has compiled that
     * path before the first boot storm (src/http/netboot/warmup.ts). 0: no warm-up. Measured:
     * node:http's code is compiled after a few hundred, the netboot handler after ~1500.
     */
    warmupExchanges: z.number().int().min(0).max(100_000).default(2000),
    /** Largest request body accepted (RPC, /update, admin API). */
    maxBodyBytes: z.number().int().positive().default(16 * 1024 * 1024),
    /**
     * A request body must arrive completely within this time after its headers (slowloris):
     * else 408 and the connection is closed.
     */
    bodyTimeoutMs: z.number().int().min(100).default(30_000),
    /**
     * Open connections from one client address; the next one is closed at once, before a
     * byte of it is read. Raise it for a reverse proxy that keeps many (nginx in front of SSO).
     */
    maxConnectionsPerClient: z.number().int().min(1).default(256),
    /**
     * Request bodies being received at once from one client address; the next request with a
     * body gets 429 and its connection is closed, so one machine cannot starve the others.
     */
    maxBodiesPerClient: z.number().int().min(1).default(16),
    /** Most concurrent /poll streams per feed before new ones get 503. */
    maxStreamsPerFeed: z.number().int().positive().default(2000),
    /**
     * One line per request in nginx's `combined` format plus Host and duration
     * (docs/operations.md). `path`: a file (reopened on SIGHUP, for logrotate) or `-` for stderr.
     */
    accessLog: z
      .strictObject({
        enabled: z.boolean().default(false),
        path: z.string().min(1).default('-'),
      })
      .prefault({}),
  })
  .prefault({});
export type HttpConfig = z.infer<typeof httpConfigSchema>;
