import { z } from 'zod';
import { listenAddress } from '../config/listen.js';

export const tftpConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    listen: z.array(listenAddress).default(['127.0.0.1:6969']),
    root: z.string().default('/srv/tftp'),
  })
  .prefault({});
export type TftpConfig = z.infer<typeof tftpConfigSchema>;
