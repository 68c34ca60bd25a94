import { z } from 'zod';
import { listenAddress } from '../config/listen.js';

const cidr = z
  .string()
  .regex(/^(\d{1,3})(\.\d{1,3}){3}\/\d{1,2}$/, 'expected an IPv4 network, e.g. 192.168.250.0/24');
/** `host:port`, or a bare IPv4 address meaning port 53. */
const serverAddress = z
  .string()
  .regex(
    /^(\d{1,3})(\.\d{1,3}){3}(:\d{1,5})?$/,
    'expected an IPv4 address with an optional :port, e.g. 192.0.2.53:53',
  );
/** A DNS name, relative to the domain or absolute with a trailing dot. */
const dnsName = z
  .string()
  .min(1)
  .max(254)
  .regex(
    /^(\*|[A-Za-z0-9_-]{1,63})(\.[A-Za-z0-9_-]{1,63})*\.?$|^@$/,
    'expected a DNS name such as "mdb", "foo.cl" or "host.example."',
  );

/**
 * A record published on top of what MDB holds. `fallback` records are the `gw:/etc/hosts`
 * bootstrap of the original: they answer only while no machine carries the same name, so the
 * core names resolve on an empty MDB and MDB wins as soon as gw is registered.
 */
const staticRecord = z.strictObject({
  name: dnsName,
  type: z.enum(['A', 'AAAA', 'TXT', 'MX', 'SRV', 'PTR']),
  /** Presentation form of the data: `192.0.2.1`, `"some text"`, `10 mail`, `0 0 80 web`, `host.` */
  value: z.string().min(1).max(1024),
  view: z.enum(['normal', 'alien', 'both']).default('normal'),
  mode: z.enum(['fallback', 'always']).default('always'),
});

const tsigKey = z.strictObject({
  /** Key name as both sides spell it (e.g. `gatehouse-xfr`). */
  name: dnsName,
  algorithm: z.enum(['hmac-sha256']).default('hmac-sha256'),
  /** Base64 secret, e.g. from `openssl rand -base64 32` or `tsig-keygen`. */
  secret: z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/, 'expected a base64 secret'),
});

const secondary = z.strictObject({
  /** Where NOTIFY goes (`ip` or `ip:port`); transfers are accepted from this IP only. */
  address: serverAddress,
  /** Name of a `dns.tsigKeys` entry; when set, transfers and NOTIFY are signed and must verify. */
  key: z.string().optional(),
  /** Which view's zones this secondary carries (one zone name per secondary). */
  view: z.enum(['normal', 'alien']).default('normal'),
  /** Zones transferred and NOTIFYed; empty means every zone generated from MDB. */
  zones: z.array(z.string()).default([]),
});

/**
 * `dns:` section (spec §4). Defaults serve unprivileged on loopback port 5353; production
 * lists `192.168.1.254:53` and `192.168.250.254:53` (the alien subnet's resolver).
 */
export const dnsConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** UDP and TCP sockets, one pair per entry. */
    listen: z.array(listenAddress).default(['127.0.0.1:5353']),
    /**
     * Clients served the alien view (§4.4). Empty means `network.alien`. Tests point this at a
     * loopback range to play an alien machine without a namespace.
     */
    alienClients: z.array(cidr).default([]),
    /** Names (relative to `network.domain`) that resolve to `network.gateway` while MDB lacks them. */
    bootstrapNames: z
      .array(dnsName)
      .default(['gw', 'ns', 'mdb', 'mdbsync', 'netboot', 'udb', 'udbsync', 'presencesync', 'sso', 'ntp']),
    static: z.array(staticRecord).default([]),
    /** Publish the §4.4 `localhost`, `0/127/255.in-addr.arpa` zones in the normal view. */
    localZones: z.boolean().default(true),
    /**
     * `changed-zones` bumps a zone's serial only when its content changes (spec §4.2 MAY);
     * `all-zones` bumps every MDB-generated zone on every machine-table commit like the original.
     */
    serialBump: z.enum(['changed-zones', 'all-zones']).default('changed-zones'),
    /** Resolvers that trusted clients' other names are forwarded to (`ip` or `ip:port`). */
    upstreams: z.array(serverAddress).default([]),
    forwarder: z
      .strictObject({
        timeoutMs: z.number().int().min(50).max(30_000).default(2000),
        /** Answers kept; TTLs are honoured and capped at maxTtl. */
        cacheEntries: z.number().int().min(0).max(1_000_000).default(10_000),
        maxTtl: z.number().int().min(0).max(604_800).default(3600),
        /** Queries waiting on upstreams at once; beyond this trusted clients get SERVFAIL. */
        maxPending: z.number().int().min(1).max(100_000).default(2000),
      })
      .prefault({}),
    tsigKeys: z.array(tsigKey).default([]),
    secondaries: z.array(secondary).default([]),
    notify: z
      .strictObject({
        /** Resend interval until the secondary acknowledges (RFC 1996 §3.6). */
        retryMs: z.number().int().min(10).max(60_000).default(1000),
        retries: z.number().int().min(0).max(20).default(5),
      })
      .prefault({}),
    /** Largest message of an AXFR/IXFR stream (bytes, at most 65535). */
    transferMessageBytes: z.number().int().min(512).max(65_535).default(16_384),
    /** UDP payload size we advertise in EDNS and cap responses to (RFC 9715 / DNS flag day 2020). */
    ednsUdpSize: z.number().int().min(512).max(4096).default(1232),
    tcp: z
      .strictObject({
        /** A connection with no complete query for this long is closed (RFC 7766 §6.2.3). */
        idleTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
        /**
         * At either limit the oldest idle connection (of that client; globally, of the client
         * holding the most) is closed to make room; a new connection is refused only when all
         * of them are busy (RFC 7766 §6.2.3). Per client much looser than what clients use
         * (§6.2.2): one address may be a NAT or relay for many machines.
         */
        maxConnections: z.number().int().min(1).max(100_000).default(1024),
        maxConnectionsPerClient: z.number().int().min(1).max(100_000).default(256),
        /** Queries of one connection in progress at once (pipelining). */
        maxInFlightPerConnection: z.number().int().min(1).max(10_000).default(64),
      })
      .prefault({}),
    /**
     * Processes answering UDP: 0 answers in the main process; N > 0 forks N workers that share
     * the UDP sockets (Node cluster) and receive each new zone snapshot over IPC; `auto` uses one
     * per core beyond the first (see dnsWorkerCount). TCP, transfers and NOTIFY stay in the main
     * process.
     */
    workers: z.union([z.number().int().min(0).max(256), z.literal('auto')]).default(0),
    /**
     * Synthetic queries (A, AAAA, PTR, NXDOMAIN of made-up LAN names) answered at start by a
     * throwaway server on 127.0.0.1 — in each UDP worker, or in the main process with `workers:
     * 0` — so V8 compiles the answer path before the first boot storm (warmup.ts). Nothing is
     * counted or logged but one `dns.warmed_up` line; 0 = none.
     */
    warmupQueries: z.number().int().min(0).max(100_000).default(2000),
  })
  .prefault({});
export type DnsConfig = z.infer<typeof dnsConfigSchema>;

/**
 * UDP worker processes for `dns.workers`. `auto` leaves one core to the main process (HTTP, DHCP,
 * TCP DNS, the store) and forks a worker for each other core: none on a single core, one on two.
 * Each worker is a whole Node process (~50 MiB RSS, ~12 MiB of it its own; docs/operations.md
 * "Memory"), and on a small box a second one only competes with the main process for the cores.
 */
export function dnsWorkerCount(workers: DnsConfig['workers'], cores: number): number {
  return workers === 'auto' ? Math.max(0, cores - 1) : workers;
}
export type StaticRecordConfig = z.infer<typeof staticRecord>;
export type TsigKeyConfig = z.infer<typeof tsigKey>;
export type SecondaryConfig = z.infer<typeof secondary>;
