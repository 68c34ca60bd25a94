import { capabilityNames, type Lldpdu } from './codec.js';

/** One neighbour as listed by the API and `gatehouse lldp neighbours`. */
export interface Neighbour {
  /** Our interface the frame came in on. */
  interface: string;
  /** Chassis ID in printable form (a MAC for switches: the MDB `switches.chassis` value). */
  chassis: string;
  chassisSubtype: number;
  port: string;
  portSubtype: number;
  portDescription: string | null;
  systemName: string | null;
  systemDescription: string | null;
  capabilities: string[];
  managementAddresses: string[];
  portVlanId: number | null;
  /** Source MAC of the last frame. */
  sourceMac: string | null;
  ttl: number;
  firstSeen: string;
  lastSeen: string;
  expiresAt: string;
}

interface Entry {
  n: Neighbour;
  expiresAtMs: number;
}

export type UpdateResult = 'new' | 'refreshed' | 'removed' | 'ignored';

/**
 * The LLDP remote systems table (802.1AB §9.2.7.7): one entry per MSAP (chassis ID + port ID)
 * and interface, dropped when its TTL runs out or on a shutdown LLDPDU (TTL 0). Bounded:
 * contestants share the wire, and a flood of made-up chassis IDs must not grow memory, so when
 * full the entry closest to expiry makes room.
 */
export class NeighbourTable {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  static key(iface: string, chassis: string, port: string): string {
    return `${iface}\u0000${chassis}\u0000${port}`;
  }

  update(
    iface: string,
    du: Lldpdu,
    sourceMac: string | undefined,
  ): { result: UpdateResult; evicted: number } {
    const t = this.now();
    const key = NeighbourTable.key(iface, du.chassisId.value, du.portId.value);
    if (du.ttl === 0) return { result: this.entries.delete(key) ? 'removed' : 'ignored', evicted: 0 };
    const previous = this.entries.get(key);
    const expiresAtMs = t + du.ttl * 1000;
    const n: Neighbour = {
      interface: iface,
      chassis: du.chassisId.value,
      chassisSubtype: du.chassisId.subtype,
      port: du.portId.value,
      portSubtype: du.portId.subtype,
      portDescription: du.portDescription ?? null,
      systemName: du.systemName ?? null,
      systemDescription: du.systemDescription ?? null,
      capabilities: du.capabilities ? capabilityNames(du.capabilities.enabled) : [],
      managementAddresses: du.managementAddresses.map((m) => m.address),
      portVlanId: du.portVlanId ?? null,
      sourceMac: sourceMac ?? null,
      ttl: du.ttl,
      firstSeen: previous?.n.firstSeen ?? new Date(t).toISOString(),
      lastSeen: new Date(t).toISOString(),
      expiresAt: new Date(expiresAtMs).toISOString(),
    };
    let evicted = 0;
    if (!previous) {
      this.expire();
      while (this.entries.size >= this.maxEntries) {
        this.evictOne();
        evicted++;
      }
    }
    // Re-insert so iteration order follows last update.
    this.entries.delete(key);
    this.entries.set(key, { n, expiresAtMs });
    return { result: previous ? 'refreshed' : 'new', evicted };
  }

  private evictOne(): void {
    let victim: string | undefined;
    let soonest = Number.POSITIVE_INFINITY;
    for (const [k, e] of this.entries) {
      if (e.expiresAtMs < soonest) {
        soonest = e.expiresAtMs;
        victim = k;
      }
    }
    if (victim !== undefined) this.entries.delete(victim);
  }

  /** Drops expired entries; returns how many. */
  expire(): number {
    const t = this.now();
    let n = 0;
    for (const [k, e] of this.entries) {
      if (e.expiresAtMs <= t) {
        this.entries.delete(k);
        n++;
      }
    }
    return n;
  }

  /** Live neighbours, by interface, chassis, port. */
  list(): Neighbour[] {
    this.expire();
    return [...this.entries.values()]
      .map((e) => e.n)
      .sort((a, b) => cmp(a.interface, b.interface) || cmp(a.chassis, b.chassis) || cmp(a.port, b.port));
  }

  get size(): number {
    return this.entries.size;
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
