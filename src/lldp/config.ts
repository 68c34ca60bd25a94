import { z } from 'zod';

export const lldpConfigSchema = z
  .strictObject({
    /** Off by default: it needs root and programs an nftables netdev table. */
    enabled: z.boolean().default(false),
    interfaces: z.array(z.string()).default([]),
  })
  .prefault({});
export type LldpConfig = z.infer<typeof lldpConfigSchema>;
