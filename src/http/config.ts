import { z } from 'zod';
import { listenAddress } from '../config/listen.js';

export const httpConfigSchema = z
  .strictObject({
    /** One or more listen addresses; production listens on :80 of the LAN addresses. */
    listen: z.array(listenAddress).min(1).default(['127.0.0.1:8080']),
    /** Largest request body accepted (RPC, /update, admin API). */
    maxBodyBytes: z.number().int().positive().default(16 * 1024 * 1024),
    /** Most concurrent /poll streams per feed before new ones get 503. */
    maxStreamsPerFeed: z.number().int().positive().default(2000),
  })
  .prefault({});
export type HttpConfig = z.infer<typeof httpConfigSchema>;
