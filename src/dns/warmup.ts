/**
 * Answers synthetic queries at start — A, AAAA (NODATA), PTR and NXDOMAIN of LAN names, each
 * name once as a storm asks it — through the very code a real UDP query takes (DnsUdpServer's
 * receive and send path, DnsEngine, answerFast, the snapshot's lazily encoded answers and its
 * fast table), so V8 has compiled that path before the morning's boot storm.
 *
 * Why: each storm machine asks for its own name once, the first real traffic of a fresh
 * server; bench/bootstorm's JIT report (issue 13) showed TurboFan compiling answerFast,
 * MessageWriter's record and name encoding and the UDP server's receive path on the storm's CPU.
 *
 * Nothing real is touched: a throwaway snapshot compiled from zones the real ZoneBuilder makes
 * of synthetic machines (so its objects have the real ones' shapes), a throwaway DnsEngine
 * (its counters are never read: nothing reaches stats or metrics) with a silent logger, and a
 * throwaway DnsUdpServer on 127.0.0.1 (kernel-chosen port) queried by a socket of this process:
 * nothing leaves the host. The same classes and closures as the real server are run, so V8's
 * feedback (kept per function, and per creation site for closures) is the real path's.
 */
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';
import { errorMessage } from '../errors.js';
import { silentLogger } from '../log.js';
import type { Machine } from '../mdb/model.js';
import { syntheticMac, syntheticMachine } from '../mdb/synthetic.js';
import { asReceived } from '../net/as-received.js';
import { intToIpv4, parseCidr } from './cidr.js';
import { DnsEngine } from './engine.js';
import { type DnsRuntimeConfig, makePolicy } from './policy-config.js';
import { compileSnapshot } from './snapshot.js';
import { DnsUdpServer } from './udp-server.js';
import { ZoneBuilder } from './zone-builder.js';
import type { Zone } from './zone.js';

export interface DnsWarmupReport {
  /** Queries answered. */
  queries: number;
  ms: number;
  /** Why the loopback part could not run (the rest then ran in memory), if it could not. */
  loopbackSkipped?: string;
  /** The warm-up failed (a bug in the answer path): why. */
  error?: string;
}

/** Queries in flight at once over loopback (well below the socket buffers). */
const WINDOW = 32;
/** A window not answered within this is taken for a loopback that drops (a firewall, `lo` down). */
const WINDOW_TIMEOUT_MS = 1000;
/** Queries per synthetic machine: A, AAAA, PTR, and an NXDOMAIN or a repeated A. */
const PER_MACHINE = 4;

/** A name no zone holds: the label is a machine's with a suffix no MDB hostname has. */
const NX_SUFFIX = '-nx';

function syntheticMachines(cfg: DnsRuntimeConfig, count: number): Machine[] {
  const lan = parseCidr(cfg.network.lan);
  const hosts = Math.max(1, 2 ** (32 - lan.prefix) - 2);
  return Array.from({ length: count }, (_, i) =>
    syntheticMachine(
      `gatehouse-warmup-${i}`,
      intToIpv4((lan.base + 1 + (i % hosts)) >>> 0),
      syntheticMac(0x4152_0000 + (i & 0xffff)),
    ),
  );
}

/** A stub resolver's query: RD set, one question, an EDNS OPT when `edns` (dig, systemd-resolved). */
export function encodeQuery(id: number, name: string, qtype: 'A' | 'AAAA' | 'PTR', edns: boolean): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type: qtype, name }],
    // Root owner, 1232-byte payload, version 0, no options.
    additionals: edns
      ? [
          {
            type: 'OPT',
            name: '.',
            udpPayloadSize: 1232,
            extendedRcode: 0,
            ednsVersion: 0,
            flags: 0,
            flag_do: false,
            options: [],
          },
        ]
      : [],
  });
}

function reverseName(ip: string): string {
  return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
}

/** The synthetic queries, in the order a storm would ask them (each name first asked once). */
function queriesFor(cfg: DnsRuntimeConfig, machines: readonly Machine[], total: number): Buffer[] {
  const domain = cfg.network.domain.replace(/\.$/, '');
  const out: Buffer[] = [];
  for (let i = 0; out.length < total; i++) {
    const m = machines[i % machines.length]!;
    const fqdn = `${m.hostname}.${domain}`;
    const id = (i * PER_MACHINE) & 0xffff;
    const edns = i % 4 === 3;
    out.push(encodeQuery(id, fqdn, 'A', edns));
    out.push(encodeQuery(id + 1, fqdn, 'AAAA', edns));
    out.push(encodeQuery(id + 2, reverseName(m.ip), 'PTR', edns));
    // Every other machine: an NXDOMAIN, or its A again (a retry: the fast table's hit), mixed case.
    if (i % 2 === 0) out.push(encodeQuery(id + 3, `${m.hostname}${NX_SUFFIX}.${domain}`, 'A', edns));
    else out.push(encodeQuery(id + 3, fqdn.toUpperCase(), 'A', edns));
  }
  return out.slice(0, total);
}

/**
 * The throwaway snapshot. `cloned`: the zones are structured-cloned first, as a DNS worker
 * receives its zones over IPC, so the objects have the shapes the worker's real ones have.
 */
function throwawayEngine(cfg: DnsRuntimeConfig, machines: readonly Machine[], cloned: boolean): DnsEngine {
  const built = new ZoneBuilder().build({ machines, network: cfg.network, dns: cfg.dns });
  let zones: Zone[] = built.zones.map((c) => ({ ...c, serial: 1 }));
  if (cloned) zones = structuredClone(zones);
  // No upstreams: a question outside the zones (none is asked) could never be forwarded.
  const policy = makePolicy({ ...cfg, dns: { ...cfg.dns, upstreams: [] } });
  return new DnsEngine(compileSnapshot(zones, 1), policy, undefined, silentLogger);
}

/** Sends `queries` to a throwaway server on 127.0.0.1, WINDOW at a time; returns how many were answered. */
async function overLoopback(
  engine: DnsEngine,
  queries: readonly Buffer[],
  cancelled: () => boolean,
): Promise<number> {
  const server = new DnsUdpServer(engine, silentLogger);
  const client = dgram.createSocket('udp4');
  try {
    await server.listen([{ host: '127.0.0.1', port: 0 }]);
    const port = Number(server.addresses()[0]!.split(':').pop());
    await new Promise<void>((resolve, reject) => {
      client.once('error', reject);
      client.bind(0, '127.0.0.1', () => resolve());
    });
    let answered = 0;
    let waiting = 0;
    let wake: (() => void) | undefined;
    client.on('message', () => {
      answered++;
      if (--waiting === 0) wake?.();
    });
    for (let i = 0; i < queries.length && !cancelled(); i += WINDOW) {
      const window = queries.slice(i, i + WINDOW);
      waiting = window.length;
      const done = new Promise<void>((resolve) => {
        wake = resolve;
      });
      for (const q of window) client.send(q, port, '127.0.0.1');
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((r) => {
        timer = setTimeout(() => r('late'), WINDOW_TIMEOUT_MS);
      });
      const how = await Promise.race([done.then(() => 'done' as const), late]);
      clearTimeout(timer);
      if (how === 'late') throw new Error(`no answer over 127.0.0.1 within ${WINDOW_TIMEOUT_MS} ms`);
    }
    return answered;
  } finally {
    client.close();
    await server.close();
  }
}

/**
 * Runs `total` synthetic queries (see the module comment); resolves with what it did. Over
 * loopback when it can; when 127.0.0.1 cannot be used (no `lo` in a network namespace) the
 * queries go to the throwaway engine in memory, which still compiles the answer path. Rejects
 * when the answer path itself fails (a bug: the caller says so and carries on).
 */
export async function warmAnswerPath(
  cfg: DnsRuntimeConfig,
  total: number,
  opts: { cloned?: boolean; cancelled?: () => boolean } = {},
): Promise<DnsWarmupReport> {
  const t0 = performance.now();
  const cancelled = opts.cancelled ?? (() => false);
  const machines = syntheticMachines(cfg, Math.max(1, Math.ceil(total / PER_MACHINE)));
  const queries = queriesFor(cfg, machines, total);
  let engine = throwawayEngine(cfg, machines, opts.cloned ?? false);
  try {
    const answered = await overLoopback(engine, queries, cancelled);
    return { queries: answered, ms: performance.now() - t0 };
  } catch (e) {
    if (cancelled()) return { queries: 0, ms: performance.now() - t0 };
    // A fresh engine: every name is asked for the first time again.
    engine = throwawayEngine(cfg, machines, opts.cloned ?? false);
    let answered = 0;
    for (const q of queries) if (engine.handle(asReceived(q), '127.0.0.1', false)) answered++;
    return { queries: answered, ms: performance.now() - t0, loopbackSkipped: errorMessage(e) };
  }
}
