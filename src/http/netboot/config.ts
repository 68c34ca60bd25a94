import { z } from 'zod';

const hostName = z.string().regex(/^[a-z0-9-]+$/, 'expected a bare host name such as rfs0');

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
    /**
     * Where iPXE reaches this virtual host, as written into the bootstrap script's `chain`
     * commands. The original is `http://netboot` (port 80, name from DNS); a lab without port
     * 80 can say `http://netboot:8080`.
     */
    baseUrl: z
      .string()
      .regex(/^http:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/, 'expected http://host[:port] without a trailing slash')
      .default('http://netboot'),
    /**
     * Kernel and initrd serving on the RFS host names, so a small deployment needs no separate
     * RFS web server (the original RFS machines serve `/boot` with nginx, vhost `^rh?fs\d+$`).
     * Off while `root` is empty.
     */
    bootFiles: z
      .strictObject({
        /** Directory holding vmlinuz-linux and the initramfs images; requests are confined to it. */
        root: z.string().default(''),
        /** Host names answered (bare; `<name>.<domain>` is accepted too). */
        hosts: z.array(hostName).default(['rfs0', 'rhfs0']),
        /** URL path prefix mapped onto `root`. */
        path: z
          .string()
          .regex(/^\/([A-Za-z0-9._-]+\/)*$/, 'expected an absolute path ending with a slash, e.g. /boot/')
          .default('/boot/'),
      })
      .prefault({}),
  })
  .prefault({});
export type NetbootConfig = z.infer<typeof netbootConfigSchema>;
