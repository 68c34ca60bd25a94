import { z } from 'zod';

export const lldpConfigSchema = z
  .strictObject({
    /** Off by default: it needs root and programs an nftables netdev table. */
    enabled: z.boolean().default(false),
    /** Interfaces to listen on (gw's LAN interfaces, where the switches are plugged). */
    interfaces: z
      .array(z.string().regex(/^[A-Za-z0-9_.@-]{1,15}$/, 'expected an interface name'))
      .default([]),
    /** nfnetlink_log group the netdev rule logs to; must differ from `firewall.logGroup`. */
    group: z.number().int().min(1).max(65535).default(35020),
    /** The nftables netdev table Gatehouse owns for LLDP (recreated at start, removed at stop). */
    table: z
      .string()
      .regex(/^[A-Za-z0-9_]{1,64}$/)
      .default('gatehouse_lldp'),
    /** Most neighbours kept; a flood of made-up chassis IDs cannot grow memory past this. */
    maxNeighbours: z.number().int().min(1).max(1_000_000).default(4096),
  })
  .prefault({});
export type LldpConfig = z.infer<typeof lldpConfigSchema>;
