/**
 * Where each machine is in its network boot, for the organizers' view of a boot storm
 * (`gatehouse boot status`, `gatehouse_boot_machines{phase}`, the admin dashboard): per machine,
 * when it was last seen in each phase. No I/O and no clock of its own: DHCP, TFTP and netboot
 * call `record` with the time of the event.
 *
 * Phases, in boot order:
 * - `dhcpPxe`: a DISCOVER/REQUEST from a PXE ROM (vendor class `PXEClient`, not iPXE);
 * - `tftpDone`: a TFTP read of a file completed to the machine's address (its boot file);
 * - `dhcpIpxe`: a DISCOVER/REQUEST from iPXE (user class `iPXE` or option 175);
 * - `bootScript`: netboot served `/boot/<mac>/`.
 *
 * TFTP knows only the client's address: it is mapped to a MAC through the addresses DHCP handed
 * out (`learnAddress`), then through MDB (`MachineLookup.byIp`). Memory is bounded: an entry
 * per machine seen, at most `maxEntries`; past that the machine updated longest ago is dropped.
 */

export const BOOT_PHASES = ['dhcpPxe', 'tftpDone', 'dhcpIpxe', 'bootScript'] as const;
export type BootPhase = (typeof BOOT_PHASES)[number];

export interface BootProgressEntry {
  mac: string;
  ip?: string;
  hostname?: string;
  room?: string;
  /** Epoch ms of the latest event of each phase seen. */
  phases: { dhcpPxe?: number; tftpDone?: number; dhcpIpxe?: number; bootScript?: number };
}

/** What MDB says about a machine (any field may be missing for a machine it does not know). */
export interface KnownMachine {
  mac: string;
  ip?: string;
  hostname?: string;
  room?: string;
}

export interface MachineLookup {
  byMac(mac: string): KnownMachine | undefined;
  byIp(ip: string): KnownMachine | undefined;
}

export type BootProgressListener = (entry: BootProgressEntry, phase: BootPhase) => void;

export interface BootProgressOptions {
  /** Most machines tracked (default 20 000). */
  maxEntries?: number;
  /** MDB, for hostnames, rooms and addresses of registered machines. */
  lookup?: MachineLookup;
}

const MAC = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/;
const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;

const NO_LOOKUP: MachineLookup = { byMac: () => undefined, byIp: () => undefined };

export class BootProgress {
  /** By MAC, least recently updated first (a re-recorded entry moves to the end). */
  private readonly entries = new Map<string, BootProgressEntry>();
  /** Addresses DHCP handed out, IP -> MAC (bounded like the entries). */
  private readonly macByIp = new Map<string, string>();
  private readonly listeners = new Set<BootProgressListener>();
  private readonly maxEntries: number;
  private readonly lookup: MachineLookup;
  /** Events whose machine could not be identified (a TFTP client address nobody leased). */
  unidentified = 0;

  constructor(opts: BootProgressOptions = {}) {
    this.maxEntries = Math.max(1, opts.maxEntries ?? 20_000);
    this.lookup = opts.lookup ?? NO_LOOKUP;
  }

  /**
   * A machine, by MAC (any case, `:` or `-` separated) or by IPv4 address, was seen in `phase`
   * at `timeMs` (epoch ms). An address nobody can map to a MAC is counted in `unidentified`.
   */
  record(key: string, phase: BootPhase, timeMs: number): void {
    const mac = this.macOf(key);
    if (mac === undefined) {
      this.unidentified++;
      return;
    }
    let entry = this.entries.get(mac);
    if (entry) this.entries.delete(mac);
    else {
      entry = this.newEntry(mac);
      if (this.entries.size >= this.maxEntries) {
        const oldest = this.entries.keys().next().value as string;
        this.entries.delete(oldest);
      }
    }
    if (IPV4.test(key)) entry.ip = key;
    const previous = entry.phases[phase];
    if (previous === undefined || timeMs >= previous) entry.phases[phase] = timeMs;
    this.entries.set(mac, entry);
    for (const l of this.listeners) {
      try {
        l(entry, phase);
      } catch {
        // A live view's bug must not break the packet path that reported.
      }
    }
  }

  /** DHCP bound (or offered) `ip` to `mac`: later TFTP events from `ip` are this machine's. */
  learnAddress(mac: string, ip: string): void {
    const m = normalMac(mac);
    if (m === undefined) return;
    this.macByIp.delete(ip);
    this.macByIp.set(ip, m);
    if (this.macByIp.size > this.maxEntries) this.macByIp.delete(this.macByIp.keys().next().value as string);
    const entry = this.entries.get(m);
    if (entry) entry.ip = ip;
  }

  /** Every machine seen, with MDB's hostname and room, in MAC order (copies). */
  snapshot(): BootProgressEntry[] {
    const out: BootProgressEntry[] = [];
    for (const e of this.entries.values()) {
      const known = this.lookup.byMac(e.mac);
      const copy: BootProgressEntry = { mac: e.mac, phases: { ...e.phases } };
      const ip = e.ip ?? known?.ip;
      if (ip) copy.ip = ip;
      if (known?.hostname) copy.hostname = known.hostname;
      if (known?.room) copy.room = known.room;
      out.push(copy);
    }
    return out.sort((a, b) => (a.mac < b.mac ? -1 : a.mac > b.mac ? 1 : 0));
  }

  /** Calls `listener` after every recorded event; returns the unsubscribe function. */
  onChange(listener: BootProgressListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Machines whose latest event is each phase ("in that phase now"). */
  counts(): Record<BootPhase, number> {
    const out = { dhcpPxe: 0, tftpDone: 0, dhcpIpxe: 0, bootScript: 0 };
    for (const e of this.entries.values()) {
      const p = currentPhase(e);
      if (p) out[p]++;
    }
    return out;
  }

  get size(): number {
    return this.entries.size;
  }

  private macOf(key: string): string | undefined {
    const mac = normalMac(key);
    if (mac !== undefined) return mac;
    if (!IPV4.test(key)) return undefined;
    return this.macByIp.get(key) ?? normalMac(this.lookup.byIp(key)?.mac ?? '');
  }

  private newEntry(mac: string): BootProgressEntry {
    return { mac, phases: {} };
  }
}

/** The phase of the latest event (ties go to the later phase in boot order). */
export function currentPhase(e: BootProgressEntry): BootPhase | undefined {
  let best: BootPhase | undefined;
  let at = Number.NEGATIVE_INFINITY;
  for (const p of BOOT_PHASES) {
    const t = e.phases[p];
    if (t !== undefined && t >= at) {
      best = p;
      at = t;
    }
  }
  return best;
}

function normalMac(s: string): string | undefined {
  const m = s.toLowerCase().replaceAll('-', ':');
  return MAC.test(m) ? m : undefined;
}
