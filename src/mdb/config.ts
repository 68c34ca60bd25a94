import { z } from 'zod';

export const timeauthConfigSchema = z
  .strictObject({
    /** When false every token is accepted (a token field may still be required). */
    enabled: z.boolean().default(true),
  })
  .prefault({});
export type TimeauthConfig = z.infer<typeof timeauthConfigSchema>;
