import type { BootProgressEntry } from '../boot/progress.js';
import { bootProgressOf } from '../boot/service.js';
import fs from 'node:fs';
import path from 'node:path';
import type { GatehouseConfig } from '../config/index.js';
import { readLeases } from '../dhcp/lease-store.js';
import { T } from '../mdb/tables.js';
import type { Metrics } from '../metrics.js';
import { PRESENCE_SERVICE_NAME, type PresenceService } from '../presence/service.js';
import type { Service } from '../service.js';
import type { Store } from '../store/index.js';
import { usersTable } from '../udb/model.js';

/**
 * What the dashboard reads from the other services, each through a narrow view looked up by
 * name: a missing service (disabled, or not on this build) is shown as unavailable.
 */
export type { BootProgressEntry };

/** The boot-storm progress service (named `boot`), as far as the dashboard needs it. */
export interface BootProgressSource {
  snapshot(): BootProgressEntry[];
  onChange(listener: () => void): (() => void) | undefined;
}

export interface LldpSource {
  neighbours(): Array<{
    interface: string;
    chassis: string;
    port: string;
    systemName: string | null;
    lastSeen: string;
  }>;
}

export function bootSource(services: readonly Service[]): BootProgressSource | undefined {
  return bootProgressOf(services);
}

export function lldpSource(services: readonly Service[]): LldpSource | undefined {
  const s = services.find((x) => x.name === 'lldp') as Partial<LldpSource> | undefined;
  return s && typeof s.neighbours === 'function' ? (s as LldpSource) : undefined;
}

export function presenceOf(services: readonly Service[]): PresenceService | undefined {
  return services.find((s) => s.name === PRESENCE_SERVICE_NAME) as PresenceService | undefined;
}

export interface SessionRow {
  login: string;
  hostname: string;
  room: string;
  /** Seconds since the last login or heartbeat. */
  age: number | undefined;
}

export interface AlienLease {
  ip: string;
  mac: string;
  hostname: string | null;
  expires: number;
}

export function sessionsByRoom(
  store: Store,
  presence: PresenceService | undefined,
): Map<string, SessionRow[]> {
  const out = new Map<string, SessionRow[]>();
  if (!presence) return out;
  const now = Date.now() / 1000;
  const rows = store.read((tx) =>
    [...presence.sessions()].map(([login, hostname]) => {
      const seen = presence.rules.lastSeen(login);
      return {
        login,
        hostname,
        room: tx.get(T.machines, hostname)?.room ?? 'unknown',
        age: seen === undefined ? undefined : Math.max(0, Math.round(now - seen)),
      };
    }),
  );
  for (const r of rows.sort((a, b) => (a.hostname < b.hostname ? -1 : 1))) {
    const list = out.get(r.room) ?? [];
    list.push(r);
    out.set(r.room, list);
  }
  return out;
}

/** Bound, unexpired leases whose MAC is in no machine record. */
export function alienLeases(store: Store, now = Date.now()): AlienLease[] {
  return store.read((tx) =>
    readLeases(tx)
      .filter((l) => l.state === 'bound' && l.expires > now && !tx.has(T.byMac, l.mac))
      .map((l) => ({ ip: l.ip, mac: l.mac, hostname: l.hostname, expires: l.expires }))
      .sort((a, b) => (a.ip < b.ip ? -1 : 1)),
  );
}

export function counts(
  store: Store,
  presence: PresenceService | undefined,
  now = Date.now(),
): Record<string, number> {
  return store.read((tx) => ({
    machines: tx.count(T.machines),
    users: tx.count(usersTable(store)),
    leases: readLeases(tx).filter((l) => l.state === 'bound' && l.expires > now).length,
    sessions: presence?.rules.size ?? 0,
  }));
}

export function unknownNeighbours(
  store: Store,
  lldp: LldpSource | undefined,
): ReturnType<LldpSource['neighbours']> {
  if (!lldp) return [];
  return store.read((tx) => lldp.neighbours().filter((n) => !tx.has(T.switches, n.chassis.toLowerCase())));
}

/** Lines of the connection log (newest first) mentioning `term` as login, host or address. */
export function searchConnectionLog(
  config: GatehouseConfig,
  term: string,
  limit = 200,
  maxBytes = 4 * 1024 * 1024,
): { file: string; lines: string[]; error?: string } {
  const file = config.firewall.connectionLog.path ?? path.join(config.dataDir, 'connections.log');
  const t = term.trim();
  if (!t) return { file, lines: [] };
  let text: string;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const start = Math.max(0, size - maxBytes);
      const buf = Buffer.alloc(size - start);
      fs.readSync(fd, buf, 0, buf.length, start);
      text = buf.toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    return {
      file,
      lines: [],
      error:
        (e as NodeJS.ErrnoException).code === 'ENOENT'
          ? 'no connection log yet (the firewall writes it)'
          : String(e),
    };
  }
  // Whole fields only: `login=joe` must not find `login=joey`.
  const needles = new Set([`login=${t}`, `host=${t}`, `src=${t}`]);
  const lines: string[] = [];
  const all = text.split('\n');
  for (let i = all.length - 1; i >= 0 && lines.length < limit; i--) {
    const line = all[i]!;
    if (line.split(' ').some((field) => needles.has(field))) lines.push(line);
  }
  return { file, lines };
}

/**
 * Per-second rates of DHCP, TFTP and HTTP requests, from the Prometheus counters every second:
 * the last minute is kept for the small graphs.
 */
export class RateSampler {
  static readonly SERIES = {
    dhcp: 'gatehouse_dhcp_received_total',
    tftp: 'gatehouse_tftp_requests_total',
    http: 'gatehouse_http_requests_total',
  } as const;
  readonly history: Record<keyof typeof RateSampler.SERIES, number[]> = { dhcp: [], tftp: [], http: [] };
  private last: Partial<Record<string, number>> = {};
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly metrics: Metrics) {}

  start(): void {
    this.timer = setInterval(() => void this.sample(), 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private async total(name: string): Promise<number | undefined> {
    const metric = this.metrics.registry.getSingleMetric(name);
    if (!metric) return undefined;
    const data = await metric.get();
    return data.values.reduce((sum, v) => sum + v.value, 0);
  }

  async sample(): Promise<void> {
    for (const [key, name] of Object.entries(RateSampler.SERIES) as Array<
      [keyof typeof RateSampler.SERIES, string]
    >) {
      const total = await this.total(name);
      if (total === undefined) continue;
      const prev = this.last[key];
      this.last[key] = total;
      if (prev === undefined) continue;
      const h = this.history[key];
      h.push(Math.max(0, total - prev));
      if (h.length > 60) h.shift();
    }
  }
}
