import { z } from 'zod';

const cidr = z
  .string()
  .regex(/^(\d{1,3})(\.\d{1,3}){3}\/\d{1,2}$/, 'expected an IPv4 network, e.g. 192.168.1.0/24');
const ifname = z
  .string()
  .min(1)
  .max(15, 'interface names have at most 15 bytes')
  .regex(/^[^\s/]+$/, 'expected an interface name');
const group = z.enum(['user', 'orga', 'root']);
const port = z.number().int().min(1).max(65535);

export const firewallConfigSchema = z
  .strictObject({
    /** Off by default: it needs root (CAP_NET_ADMIN) and owns an nftables table. */
    enabled: z.boolean().default(false),
    /** Groups whose logged-in machines reach the Internet (spec §11.2); contest mode = [root, orga]. */
    allowedGroups: z.array(group).default(['root', 'orga', 'user']),
    /** Groups allowed while contest mode is on (`gatehouse fw contest on`). */
    contestGroups: z.array(group).default(['root', 'orga']),
    /** Gatehouse's own `inet` table; nothing outside it is ever touched. */
    table: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9_]{0,31}$/, 'expected a table name of letters, digits and _')
      .default('gatehouse'),
    /** Interfaces facing the LAN: DHCP/DNS/TFTP/HTTP are only answered there, and uplink→LAN is forwarded. */
    lanInterfaces: z.array(ifname).default(['lan']),
    /** Upstream interfaces, masqueraded (the original's `prologin`, `host0` and `uplink`). */
    uplinkInterfaces: z.array(ifname).default(['prologin', 'host0', 'uplink']),
    /** Servers' subnet, always forwarded; null = the /24 holding network.gateway (192.168.1.0/24). */
    serversSubnet: cidr.nullable().default(null),
    /** Ports answered only on LAN interfaces (and loopback), dropped on the others. */
    lanOnlyPorts: z
      .strictObject({
        udp: z.array(port).default([53, 67, 69]),
        tcp: z.array(port).default([53, 80]),
      })
      .prefault({}),
    /** nfnetlink_log group of the "new connection" log rule; must differ from lldp's group. */
    logGroup: z.number().int().min(0).max(65535).default(10),
    /** Prefix of the new-connection log lines (kept from the original LOG rule). */
    logPrefix: z.string().max(127).default('Prologin outgoing connection '),
    connectionLog: z
      .strictObject({
        /** Append-only connection log; null = `<dataDir>/connections.log`. */
        path: z.string().nullable().default(null),
        /** Rotate when the file would exceed this size. */
        maxBytes: z
          .number()
          .int()
          .min(4096)
          .default(64 * 1024 * 1024),
        /** Rotated files kept (`connections.log.1` … `.N`). */
        keep: z.number().int().min(1).max(1000).default(10),
        /** Also write one structured log line (journal) per connection. */
        journal: z.boolean().default(true),
      })
      .prefault({}),
    conntrack: z
      .strictObject({
        /** Log NATed connections from ctnetlink NEW events (spec §11.3). */
        enabled: z.boolean().default(true),
        /** SO_RCVBUF requested for the event socket (the kernel doubles it, capped by rmem_max). */
        recvBufferBytes: z
          .number()
          .int()
          .min(4096)
          .default(8 * 1024 * 1024),
        /** Seconds between bookkeeping dumps that bound the memory of seen connection ids. */
        resyncIntervalSeconds: z.number().int().min(10).default(300),
      })
      .prefault({}),
  })
  .prefault({});
export type FirewallConfig = z.infer<typeof firewallConfigSchema>;
