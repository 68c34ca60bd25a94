import { z } from 'zod';

export const firewallConfigSchema = z
  .strictObject({
    /** Off by default: it needs root (CAP_NET_ADMIN) and owns an nftables table. */
    enabled: z.boolean().default(false),
    /** Groups whose logged-in machines reach the Internet (spec §11.2); contest mode = [root, orga]. */
    allowedGroups: z.array(z.enum(['user', 'orga', 'root'])).default(['root', 'orga', 'user']),
  })
  .prefault({});
export type FirewallConfig = z.infer<typeof firewallConfigSchema>;
