import { z } from 'zod';

export const netbootConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** Kernel command line appended after nfsroot= (netboot.yml `options`). */
    options: z
      .string()
      .default(
        'root=/dev/nfs ip=${ip}:${next-server}:${gateway}:${netmask}:${hostname}.prolo:eth0:none nosplash rootdelay=0',
      ),
    /** Boot initramfs-linux-fallback.img instead of initramfs-linux.img. */
    fallback: z.boolean().default(false),
  })
  .prefault({});
export type NetbootConfig = z.infer<typeof netbootConfigSchema>;
