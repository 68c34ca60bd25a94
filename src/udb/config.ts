import { z } from 'zod';

/**
 * Logins refused at every save, besides the host's own system accounts (spec §7.1: the
 * original refused logins that exist on the UDB host with a system uid). The list matters on
 * the appliance because the users it hands out end up in the /etc/passwd of other machines
 * (udbsync_passwd), whose system accounts the appliance host cannot see.
 */
export const DEFAULT_RESERVED_LOGINS = [
  'root',
  'daemon',
  'bin',
  'sys',
  'sync',
  'games',
  'man',
  'lp',
  'mail',
  'news',
  'uucp',
  'proxy',
  'backup',
  'list',
  'irc',
  'gnats',
  'nobody',
  'wheel',
  'adm',
  'sshd',
  'messagebus',
  '_apt',
  'ntp',
  'nginx',
  'http',
  'postgres',
  'gatehouse',
  'dbus',
  'polkitd',
] as const;

export const udbConfigSchema = z
  .strictObject({
    /** Serve the `udb` and `udbsync` virtual hosts and the users admin API. */
    enabled: z.boolean().default(true),
    /** Logins that can never be saved (compared after lowercasing). */
    reservedLogins: z.array(z.string()).default([...DEFAULT_RESERVED_LOGINS]),
    /**
     * A passwd(5) file whose accounts with uid 0–999 or 60000–65533 are refused as logins, like
     * the original `validate_unix_uid`; null disables the check.
     */
    systemAccountsFile: z.string().nullable().default('/etc/passwd'),
    /** Rows per write transaction in batchimport/jsonimport (progress is reported per batch). */
    importBatchSize: z.number().int().min(1).max(10_000).default(500),
  })
  .prefault({});

export type UdbConfig = z.infer<typeof udbConfigSchema>;
