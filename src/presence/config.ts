import { z } from 'zod';

export const presenceConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** Session lifetime without heartbeat, seconds (presencesync-sub.yml `timeout`). */
    timeout: z.number().positive().default(30),
  })
  .prefault({});
export type PresenceConfig = z.infer<typeof presenceConfigSchema>;

export const ssoConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** hostname → login, taking precedence over presence (presencesync-sso.yml `overrides`). */
    overrides: z.record(z.string(), z.string()).nullable().default({}),
  })
  .prefault({});
export type SsoConfig = z.infer<typeof ssoConfigSchema>;
