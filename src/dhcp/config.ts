import { z } from 'zod';
import { listenAddress } from '../config/listen.js';

const ipv4 = z.string().regex(/^(\d{1,3})(\.\d{1,3}){3}$/, 'expected an IPv4 address');
const cidr = z
  .string()
  .regex(/^(\d{1,3})(\.\d{1,3}){3}\/\d{1,2}$/, 'expected an IPv4 network, e.g. 192.168.0.0/24');

/**
 * Boot file per client architecture (option 93, RFC 4578 §2.1): keys are architecture numbers
 * (0 BIOS, 7 and 9 UEFI x64, 16 UEFI x64 HTTP boot, …); clients without option 93 or with an
 * architecture not listed get the subnet's `bootFile`. An `http://` value is what a UEFI HTTP
 * boot client (16) needs; such clients also receive option 60 `HTTPClient`.
 */
const archBootFiles = z.record(
  z.string().regex(/^\d+$/, 'architecture numbers, e.g. "9"'),
  z.string().min(1).max(127),
);

/**
 * iPXE chain URL for a subnet: null = the global `ipxe.chainUrl`, '' = do not chain (iPXE gets
 * the same boot file as the PXE ROM).
 */
const ipxeChainOverride = z.string().max(127).nullable().default(null);

const subnetSchema = z.strictObject({
  /** Known machines (MDB) whose address is in this network are served; others are ignored. */
  network: cidr,
  /** Boot file for BIOS PXE ROMs and for clients that do not send option 93. */
  bootFile: z.string().min(1).max(127),
  archBootFiles: archBootFiles.default({}),
  ipxeChainUrl: ipxeChainOverride,
});
export type DhcpSubnetConfig = z.infer<typeof subnetSchema>;

/**
 * `dhcp:` section (spec §5). Addresses, mask, router and domain come from `network:`; this
 * section says who is served, with which boot files, and how the sockets are set up.
 */
export const dhcpConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /**
     * Plain UDP socket used when `interfaces` is empty (unprivileged and loopback default). Such a
     * socket cannot tell which interface a broadcast came in on, so it answers only relayed
     * requests (giaddr set), e.g. perfdhcp or a relay agent.
     */
    listen: listenAddress.default('127.0.0.1:1067'),
    /**
     * LAN interfaces to serve directly (needs root): one raw socket bound to each (SO_BINDTODEVICE),
     * so DHCP arriving on any other interface (the uplink) is never answered and replies leave
     * through the interface the request came in on, from its address. `listen` is then unused.
     */
    interfaces: z.array(z.string().min(1).max(15)).default([]),
    /** With `interfaces`: the port requests arrive on and the port replies go to. */
    serverPort: z.number().int().min(1).max(65535).default(67),
    clientPort: z.number().int().min(1).max(65535).default(68),
    /**
     * With `interfaces`: also bind UDP sockets on serverPort of the interfaces' addresses that
     * discard what they receive, so the kernel does not answer unicast renewals with ICMP port
     * unreachable (port-guard.ts).
     * Turn off if another program must own that port.
     */
    portGuard: z.boolean().default(true),
    /**
     * Receive buffer per socket. A boot storm arrives at once and the kernel default (~208 KiB,
     * 130–210 packets) loses most of it; as root Gatehouse forces the size past net.core.rmem_max.
     */
    recvBufferBytes: z
      .number()
      .int()
      .min(64 * 1024)
      .default(8 * 1024 * 1024),
    /**
     * With `interfaces`: when requests would wait in the receive queue longer than this
     * (estimated), the oldest are dropped unread, so a flood or a starved CPU degrades into
     * some lost requests instead of every answer arriving too late. 0 disables.
     */
    maxQueueDelayMs: z.number().int().min(0).default(500),
    /**
     * Rounds of synthetic boot-ROM requests (up to 8 each) run at start through the server's
     * whole per-packet path on a throwaway twin (warmup.ts), so a boot storm right after a start
     * meets compiled code. 0 disables (benches compare).
     */
    warmupRounds: z.number().int().min(0).max(100_000).default(700),
    /** Server identifier when answering through `listen`; null = the listen address, else the gateway. */
    serverId: ipv4.nullable().default(null),
    /** Lease time given to known machines, seconds (original: 14400). */
    leaseTime: z.number().int().min(60).default(14400),
    /** Send option 175 sub-option 176 (`no-pxedhcp`) = 1 to iPXE clients that request 175. */
    noPxeDhcp: z.boolean().default(true),
    /** Known machines' subnets; they must lie inside `network.lan`. */
    subnets: z.array(subnetSchema).default([
      {
        network: '192.168.0.0/24',
        bootFile: 'prologin.kpxe',
        archBootFiles: { '7': 'prologin.efi', '9': 'prologin.efi', '16': 'http://netboot/prologin.efi' },
        ipxeChainUrl: null,
      },
      {
        network: '192.168.1.0/24',
        bootFile: 'arch.kpxe',
        archBootFiles: { '7': 'arch.efi', '9': 'arch.efi' },
        // arch.kpxe carries its own embedded script; keep giving it the file, as the original did.
        ipxeChainUrl: '',
      },
    ]),
    /** Unknown machines: dynamic leases in `network.alien`. */
    alien: z
      .strictObject({
        enabled: z.boolean().default(true),
        /**
         * Dynamic range; null = `.1` and `.200` of `network.alien` (the original). NOTE: a /23 plus
         * the alien /24 hold about 760 addresses; a 1000-machine boot storm needs a larger range.
         */
        rangeStart: ipv4.nullable().default(null),
        rangeEnd: ipv4.nullable().default(null),
        /** Seconds (original: 30, default and max). */
        leaseTime: z.number().int().min(1).default(30),
        bootFile: z.string().min(1).max(127).default('prologin.kpxe'),
        archBootFiles: archBootFiles.default({
          '7': 'prologin.efi',
          '9': 'prologin.efi',
          '16': 'http://netboot/prologin.efi',
        }),
        /** iPXE `scriptlet` (175/81) telling the bootstrap script to show the registration menu. */
        scriptlet: z.string().max(255).default('alien'),
        ipxeChainUrl: ipxeChainOverride,
      })
      .prefault({}),
    ipxe: z
      .strictObject({
        /**
         * Recognise iPXE (option 77 user class `iPXE` or option 175 present) and give it
         * `chainUrl` as the boot file, so it fetches the bootstrap script over HTTP instead of
         * loading itself again over TFTP. Options (175 with `scriptlet`) stay the same.
         */
        detect: z.boolean().default(true),
        chainUrl: z.string().max(127).default('http://netboot/bootstrap'),
      })
      .prefault({}),
    /** How long an offered address is held for the client before it can go to another. */
    offerHoldMs: z.number().int().min(100).default(10_000),
    /** How long an address declined by its client (address conflict, DHCPDECLINE) is kept out of the pool. */
    declineHoldS: z.number().int().min(1).default(600),
    /**
     * Send the ACK of an alien lease only once its row is committed to disk: a crash then loses
     * no lease a client holds and the restart needs no probation. false answers at once (no
     * disk sync in the ACK's latency) and covers a crash with a probation as long as the
     * longest alien lease instead (docs/dhcp.md, "Leases and crash safety").
     */
    ackAfterCommit: z.boolean().default(true),
  })
  .prefault({});
export type DhcpConfig = z.infer<typeof dhcpConfigSchema>;
