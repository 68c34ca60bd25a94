import { z } from 'zod';
import { dhcpConfigSchema } from '../dhcp/config.js';
import { dnsConfigSchema } from '../dns/config.js';
import { httpConfigSchema } from '../http/config.js';
import { netbootConfigSchema } from '../http/netboot/config.js';
import { lldpConfigSchema } from '../lldp/config.js';
import { timeauthConfigSchema } from '../mdb/config.js';
import { haConfigSchema } from '../ha/config.js';
import { firewallConfigSchema } from '../nft/config.js';
import { presenceConfigSchema, ssoConfigSchema } from '../presence/config.js';
import { tftpConfigSchema } from '../tftp/config.js';
import { udbConfigSchema } from '../udb/config.js';
import { DEFAULT_DATA_DIR } from './defaults.js';
import { networkConfigSchema } from './network.js';
import { secretsConfigSchema } from './secrets.js';

/**
 * The whole `gatehouse.yml`. Each service owns its section's schema in its own folder; this
 * file only assembles them. Unknown keys are rejected everywhere (strict objects) so a typo
 * is an error with a line number, not a silently ignored setting.
 */
export const configSchema = z
  .strictObject({
    /** Where the LMDB store lives. */
    dataDir: z.string().default(DEFAULT_DATA_DIR),
    log: z.strictObject({ level: z.enum(['debug', 'info', 'warn', 'error']).default('info') }).prefault({}),
    /** Seed demo machines, users and switches when the store is empty. */
    demo: z.strictObject({ seed: z.boolean().default(true) }).prefault({}),
    network: networkConfigSchema,
    secrets: secretsConfigSchema,
    timeauth: timeauthConfigSchema,
    udb: udbConfigSchema,
    http: httpConfigSchema,
    dns: dnsConfigSchema,
    dhcp: dhcpConfigSchema,
    tftp: tftpConfigSchema,
    netboot: netbootConfigSchema,
    lldp: lldpConfigSchema,
    presence: presenceConfigSchema,
    sso: ssoConfigSchema,
    firewall: firewallConfigSchema,
    ha: haConfigSchema,
  })
  .prefault({});

export type GatehouseConfig = z.infer<typeof configSchema>;
export type GatehouseConfigInput = z.input<typeof configSchema>;
