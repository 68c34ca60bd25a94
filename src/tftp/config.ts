import os from 'node:os';
import { z } from 'zod';
import { listenAddress } from '../config/listen.js';

/**
 * `tftp:` section. Defaults run unprivileged on loopback; production lists each served
 * address (e.g. `192.168.1.254:69`, `192.168.250.254:69`) so that replies leave from the address
 * the client talked to.
 */
export const tftpConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** One socket per entry. Prefer explicit addresses over 0.0.0.0: see docs/tftp.md. */
    listen: z.array(listenAddress).default(['127.0.0.1:6969']),
    /** Directory served read-only; requests are confined to it (symlinks resolved). */
    root: z.string().min(1).default('/srv/tftp'),
    /**
     * Largest RFC 2348 blksize granted; bigger requests are clamped. 1468 fills a 1500-byte
     * Ethernet frame (1500 - 20 IPv4 - 8 UDP - 4 TFTP) so no DATA packet is ever fragmented.
     */
    maxBlksize: z.number().int().min(8).max(65464).default(1468),
    /** Largest RFC 7440 windowsize granted; bigger requests are clamped. */
    maxWindowsize: z.number().int().min(1).max(1024).default(64),
    /** First retransmission interval when the client does not ask for RFC 2349 `timeout`. */
    timeoutMs: z.number().int().min(10).max(255_000).default(1000),
    /**
     * Retransmission backoff doubles the interval up to this ceiling (at least twice the first
     * interval). Keep it above the clients' own timeouts (tftp-hpa and atftp: 5 s) so that their
     * timer, not ours, re-sends a lost ACK. Also the longest RFC 2349 `timeout` granted.
     */
    maxTimeoutMs: z.number().int().min(10).max(255_000).default(8000),
    /** Retransmissions of the same window before a transfer is abandoned. */
    retries: z.number().int().min(0).max(100).default(5),
    /** A transfer running longer than this is abandoned (slow-drip clients cannot hold a slot forever). */
    maxTransferMs: z.number().int().min(1000).default(600_000),
    /** Concurrent transfers, all clients together. */
    maxTransfers: z.number().int().min(1).max(100_000).default(4000),
    /** Concurrent transfers from one client address (a PXE ROM needs one). */
    maxTransfersPerClient: z.number().int().min(1).max(100_000).default(8),
    /**
     * ERROR replies from the listening port (refusals, malformed requests) per source address
     * and overall: token buckets, so a spoofed flood cannot turn the server into a reflector.
     * Beyond them the request is dropped silently (counted, logged rate-capped).
     */
    errorReplies: z
      .strictObject({
        perClientPerSecond: z.number().min(0.1).max(100_000).default(20),
        perClientBurst: z.number().int().min(1).max(100_000).default(50),
        perSecond: z.number().min(1).max(1_000_000).default(1000),
        burst: z.number().int().min(1).max(1_000_000).default(2000),
      })
      .prefault({}),
    /** Bytes of boot files kept in memory; a file bigger than this is read from disk per transfer. */
    cacheBytes: z
      .number()
      .int()
      .min(0)
      .default(256 * 1024 * 1024),
    /** Resolution of the shared retransmission timer. */
    timerTickMs: z.number().int().min(1).max(1000).default(20),
    /**
     * Threads that run transfers. `auto` = one per CPU (os.availableParallelism()); 1 = every
     * transfer on the main event loop. Above 1, the main thread keeps the listening sockets and
     * admission, and worker threads (started as transfers arrive) run the transfers of cached
     * files: sending is kernel-bound, so one thread saturates one core. See docs/tftp.md.
     */
    workers: z.union([z.literal('auto'), z.number().int().min(1).max(256)]).default('auto'),
    /**
     * Worker threads started with the service and kept while idle (at most `workers`); the others
     * start on demand and end after 60 s without a transfer. ~10 MiB each. A kept worker has
     * compiled the transfer path (its warm-up, then every storm), so a boot storm does not pay
     * V8's compilation on its CPU (issue 13). 0 = none kept, every storm meets fresh threads.
     */
    warmWorkers: z.number().int().min(0).max(256).default(2),
    /**
     * Synthetic transfers (in memory, nothing sent or counted) each kept worker runs at start —
     * or the main thread with `workers: 1` — so V8 compiles the transfer path before the first
     * storm; 0 = none.
     */
    warmupTransfers: z.number().int().min(0).max(100_000).default(200),
    /**
     * Synthetic read requests the main thread handles at start (request-warmup.ts: a throwaway
     * server on 127.0.0.1 whose transfers never run; nothing counted or logged) so V8 compiles
     * the request path — decoding, policy, file cache, hand-off — before the first storm; 0 = none.
     */
    warmupRequests: z.number().int().min(0).max(100_000).default(1000),
  })
  .prefault({});
export type TftpConfig = z.infer<typeof tftpConfigSchema>;

/** The number of transfer threads `tftp.workers` asks for on this machine. */
export function workerCount(workers: TftpConfig['workers']): number {
  return workers === 'auto' ? os.availableParallelism() : workers;
}
