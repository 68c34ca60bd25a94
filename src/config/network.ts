import { z } from 'zod';

const ipv4 = z.string().regex(/^(\d{1,3})(\.\d{1,3}){3}$/, 'expected an IPv4 address');
const cidr = z.string().regex(/^(\d{1,3})(\.\d{1,3}){3}\/\d{1,2}$/, 'expected an IPv4 network, e.g. 192.168.0.0/23');

/**
 * The LAN plan of spec §0.2. Defaults are the original Prologin addresses; every service
 * derives its addresses from here rather than hard-coding them.
 */
export const networkConfigSchema = z
  .strictObject({
    domain: z.string().default('prolo'),
    /** The users + services segment, one /23 seen by every machine. */
    lan: cidr.default('192.168.0.0/23'),
    /** The gateway's address on the LAN (router, DNS, next-server). */
    gateway: ipv4.default('192.168.1.254'),
    /** Cluster network, not served by DHCP. */
    cluster: cidr.default('192.168.2.0/24'),
    /** Unknown machines' subnet and the gateway's address there. */
    alien: cidr.default('192.168.250.0/24'),
    alienGateway: ipv4.default('192.168.250.254'),
    /** Subnets whose clients may recurse (spec §4.4 `trusted`). */
    trusted: z.array(cidr).default(['192.168.0.0/16', '127.0.0.0/8']),
  })
  .prefault({});

export type NetworkConfig = z.infer<typeof networkConfigSchema>;
