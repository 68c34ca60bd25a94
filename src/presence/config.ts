import { z } from 'zod';

export const presenceConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /**
     * Session lifetime without heartbeat, seconds (presencesync-sub.yml `timeout`); also the
     * start-up login embargo. Heartbeat clients send every timeout/2. Read at start only.
     */
    timeout: z.number().positive().default(30),
  })
  .prefault({});
export type PresenceConfig = z.infer<typeof presenceConfigSchema>;

const cidr = z
  .string()
  .regex(/^(\d{1,3})(\.\d{1,3}){3}(\/\d{1,2})?$/, 'expected an IPv4 address or network, e.g. 127.0.0.0/8');

export const ssoConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** hostname → login, taking precedence over presence (presencesync-sso.yml `overrides`). */
    overrides: z.record(z.string(), z.string()).nullable().default({}),
    /**
     * Peers whose `X-Real-IP` header is believed (the nginx servers running the SSO stubs).
     * Anyone else asking the `sso` host gets the answer for its own address, so a contestant
     * cannot ask who is logged on another machine. null = believe every peer (the original).
     */
    trustedProxies: z.array(cidr).nullable().default(['127.0.0.0/8', '192.168.1.0/24']),
  })
  .prefault({});
export type SsoConfig = z.infer<typeof ssoConfigSchema>;
