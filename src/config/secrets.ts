import { z } from 'zod';
import { DEFAULT_ADMIN_TOKEN } from './defaults.js';

const secret = z.string().min(1, 'a shared secret cannot be empty');

/**
 * Shared secrets of spec §12. Publisher and subscriber secrets stay distinct even though the
 * original production wrote the same value in both files. The defaults are for the demo only;
 * `gatehouse check-config` warns when they are left in place.
 */
export const secretsConfigSchema = z
  .strictObject({
    mdbsyncPub: secret.default('demo-mdbsync-pub'),
    mdbsyncSub: secret.default('demo-mdbsync-sub'),
    udbsyncPub: secret.default('demo-udbsync-pub'),
    udbsyncSub: secret.default('demo-udbsync-sub'),
    udbClientAuth: secret.default('demo-udb-client-auth'),
    presencesyncPub: secret.default('demo-presencesync-pub'),
    presencesyncSub: secret.default('demo-presencesync-sub'),
    /** Bearer token for the JSON admin API (/api/v1). */
    adminToken: secret.default(DEFAULT_ADMIN_TOKEN),
    /** Bearer token between the two gateways of an HA pair (replication, acks, notify hook). */
    haReplication: secret.default('demo-ha-replication'),
  })
  .prefault({});

export type SecretsConfig = z.infer<typeof secretsConfigSchema>;

export const DEMO_SECRET_PREFIX = 'demo-';
