import { z } from 'zod';
import { listenAddress } from '../config/listen.js';

export const dhcpConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    listen: listenAddress.default('127.0.0.1:1067'),
  })
  .prefault({});
export type DhcpConfig = z.infer<typeof dhcpConfigSchema>;
