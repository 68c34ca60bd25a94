import { z } from 'zod';
import { listenAddress } from '../config/listen.js';

export const dnsConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    listen: z.array(listenAddress).default(['127.0.0.1:5353']),
  })
  .prefault({});
export type DnsConfig = z.infer<typeof dnsConfigSchema>;
