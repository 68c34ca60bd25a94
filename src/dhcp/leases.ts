/**
 * The dynamic (alien) pool: who holds which address, in memory, indexed for the packet path,
 * with every durable change handed to a `LeaseSink` (write-through to the store). No I/O and no
 * clock of its own: callers pass `now` (ms).
 *
 * Reads (`proposeOffer`, `canBind`, `ownerOf`) never change state, so the policy that calls
 * them stays pure; the server applies the policy's `LeaseOp` afterwards with `apply`.
 *
 * Crash safety. The server sends the ACK of an alien lease only once its row is committed
 * (lease-store.ts), so a crash loses no binding a client was told about. Servers before that
 * answered first and wrote afterwards: a crash could lose the last bindings while their clients
 * kept the addresses. A restart after such a crash (the store's marker says the previous server
 * ran without durable ACKs and did not stop cleanly) starts a *probation* as long as the longest
 * dynamic lease: during it no address is offered to a client that does not already own it in
 * the store, while REQUESTs (renewals, INIT-REBOOT) may reclaim an address nobody else holds.
 * When it ends, every lease granted before the crash has expired. See docs/dhcp.md.
 */
import { type Ip, formatIp, ip as parseIpStrict, parseIp } from './ipv4.js';

export type LeaseState = 'bound' | 'released' | 'declined';

/** A row of the `dhcp_leases` table (key: the address). Times are Unix milliseconds. */
export interface LeaseRecord {
  ip: string;
  /** Lowercase MAC of the client (for `declined`, the client that declined it). */
  mac: string;
  /** Option 61 as hex, informational (bindings are per hardware address). */
  clientId: string | null;
  /** Option 12 sent by the client, informational. */
  hostname: string | null;
  state: LeaseState;
  starts: number;
  expires: number;
  updatedAt: number;
}

export interface LeaseSink {
  /** `addr` is `record.ip` as a number. */
  persist(record: LeaseRecord, addr: Ip): void;
}

export type LeaseOp =
  | { op: 'hold'; ip: Ip; mac: string; until: number }
  | { op: 'unhold'; mac: string }
  | { op: 'bind'; ip: Ip; mac: string; clientId: string | null; hostname: string | null; expires: number }
  | { op: 'release'; ip: Ip; mac: string }
  | { op: 'decline'; ip: Ip; mac: string; until: number };

export type OfferProposal =
  | { ok: true; ip: Ip; why: 'held-offer' | 'existing-lease' | 'previous-address' | 'requested' | 'free' }
  | { ok: false; why: 'exhausted' | 'probation' };

export type BindCheck = { ok: true } | { ok: false; why: 'not-in-pool' | 'address-in-use' | 'declined' };

interface Slot {
  record: LeaseRecord | undefined;
  holdMac: string | undefined;
  holdUntil: number;
}

export interface PoolRange {
  start: Ip;
  end: Ip;
}

export interface LeaseCounts {
  size: number;
  bound: number;
  offered: number;
  declined: number;
  free: number;
}

export class LeaseEngine {
  private readonly slots: Slot[];
  /** MAC -> slot index of its binding, offer or last address. */
  private readonly byMac = new Map<string, number>();
  /** Rows outside the current range (range changed): listed, never allocated. */
  private readonly outside = new Map<string, LeaseRecord>();
  private cursor = 0;
  /** After a fruitless full scan: no free slot can appear before this time unless something is released. */
  private exhaustedUntil = 0;
  private probationUntil = 0;

  constructor(
    readonly range: PoolRange,
    private readonly sink: LeaseSink,
  ) {
    const size = range.end - range.start + 1;
    this.slots = Array.from({ length: size }, () => ({
      record: undefined,
      holdMac: undefined,
      holdUntil: 0,
    }));
  }

  get size(): number {
    return this.slots.length;
  }

  /** Loads persisted rows (at start). `probationUntil` > now after an unclean stop. */
  load(records: Iterable<LeaseRecord>, probationUntil = 0): void {
    this.probationUntil = probationUntil;
    for (const r of records) {
      const addr = parseIp(r.ip);
      const idx = addr === undefined ? -1 : this.index(addr);
      if (idx < 0) {
        this.outside.set(r.ip, r);
        continue;
      }
      this.slots[idx]!.record = r;
      if (r.state !== 'declined' && r.mac) {
        const prev = this.byMac.get(r.mac);
        // One MAC may have rows for several addresses (older ones released); keep the newest.
        if (prev === undefined || (this.slots[prev]!.record?.updatedAt ?? 0) < r.updatedAt)
          this.byMac.set(r.mac, idx);
      }
    }
  }

  inProbation(now: number): boolean {
    return now < this.probationUntil;
  }

  get probationEnds(): number {
    return this.probationUntil;
  }

  private index(addr: Ip): number {
    return addr >= this.range.start && addr <= this.range.end ? addr - this.range.start : -1;
  }

  /** The MAC that currently holds `addr` (offer, unexpired lease), '' if declined, undefined if free. */
  ownerOf(addr: Ip, now: number): string | undefined {
    const idx = this.index(addr);
    return idx < 0 ? undefined : this.slotOwner(this.slots[idx]!, now);
  }

  private slotOwner(s: Slot, now: number): string | undefined {
    if (s.holdMac !== undefined && s.holdUntil > now) return s.holdMac;
    const r = s.record;
    if (r && r.expires > now) {
      if (r.state === 'bound') return r.mac;
      if (r.state === 'declined') return '';
    }
    return undefined;
  }

  /** The address `mac` holds right now (offer or unexpired lease). */
  addressOf(mac: string, now: number): Ip | undefined {
    const idx = this.byMac.get(mac);
    if (idx === undefined) return undefined;
    return this.slotOwner(this.slots[idx]!, now) === mac ? this.range.start + idx : undefined;
  }

  /** Which address to offer `mac` (read-only; apply the resulting `hold` to reserve it). */
  proposeOffer(mac: string, requested: Ip | undefined, now: number): OfferProposal {
    const mine = this.byMac.get(mac);
    if (mine !== undefined) {
      const s = this.slots[mine]!;
      const owner = this.slotOwner(s, now);
      if (owner === mac) {
        const held = s.holdMac === mac && s.holdUntil > now;
        return { ok: true, ip: this.range.start + mine, why: held ? 'held-offer' : 'existing-lease' };
      }
      if (this.inProbation(now)) return { ok: false, why: 'probation' };
      if (owner === undefined) return { ok: true, ip: this.range.start + mine, why: 'previous-address' };
    } else if (this.inProbation(now)) {
      return { ok: false, why: 'probation' };
    }
    if (requested !== undefined) {
      const idx = this.index(requested);
      if (idx >= 0 && this.slotOwner(this.slots[idx]!, now) === undefined && !this.claimedByOther(idx, mac)) {
        return { ok: true, ip: requested, why: 'requested' };
      }
    }
    const free = this.findFree(mac, now);
    return free === undefined
      ? { ok: false, why: 'exhausted' }
      : { ok: true, ip: this.range.start + free, why: 'free' };
  }

  /**
   * A free slot still remembered as another MAC's last address is avoided while others exist,
   * so a machine coming back soon gets its old address again.
   */
  private claimedByOther(idx: number, mac: string): boolean {
    const r = this.slots[idx]!.record;
    return r !== undefined && r.mac !== mac && r.state !== 'declined' && this.byMac.get(r.mac) === idx;
  }

  private findFree(mac: string, now: number): number | undefined {
    if (now < this.exhaustedUntil) return undefined;
    const n = this.slots.length;
    let fallback: number | undefined;
    let nextChange = Number.POSITIVE_INFINITY;
    for (let k = 0; k < n; k++) {
      const idx = (this.cursor + k) % n;
      const s = this.slots[idx]!;
      if (this.slotOwner(s, now) !== undefined) {
        const until = Math.max(s.holdMac !== undefined ? s.holdUntil : 0, s.record ? s.record.expires : 0);
        if (until < nextChange) nextChange = until;
        continue;
      }
      if (!this.claimedByOther(idx, mac)) {
        this.cursor = (idx + 1) % n;
        return idx;
      }
      if (fallback === undefined) fallback = idx;
    }
    if (fallback !== undefined) {
      this.cursor = (fallback + 1) % n;
      return fallback;
    }
    this.exhaustedUntil = nextChange;
    return undefined;
  }

  /** Whether `mac` may be bound to `addr` now (REQUEST in any state). */
  canBind(addr: Ip, mac: string, now: number): BindCheck {
    const idx = this.index(addr);
    if (idx < 0) return { ok: false, why: 'not-in-pool' };
    const owner = this.slotOwner(this.slots[idx]!, now);
    if (owner === undefined || owner === mac) return { ok: true };
    return { ok: false, why: owner === '' ? 'declined' : 'address-in-use' };
  }

  apply(op: LeaseOp, now: number): void {
    switch (op.op) {
      case 'hold': {
        const idx = this.index(op.ip);
        if (idx < 0) return;
        this.dropHold(op.mac, idx);
        const s = this.slots[idx]!;
        s.holdMac = op.mac;
        s.holdUntil = op.until;
        this.byMac.set(op.mac, idx);
        return;
      }
      case 'unhold':
        this.dropHold(op.mac, -1);
        return;
      case 'bind': {
        const idx = this.index(op.ip);
        if (idx < 0) return;
        this.dropHold(op.mac, idx);
        const prevIdx = this.byMac.get(op.mac);
        if (prevIdx !== undefined && prevIdx !== idx) {
          // One address per machine: a client that moved to another address gives the old one back.
          const old = this.slots[prevIdx]!.record;
          if (old && old.mac === op.mac && old.state === 'bound' && old.expires > now) {
            this.write(prevIdx, { ...old, state: 'released', expires: now, updatedAt: now });
          }
        }
        const s = this.slots[idx]!;
        s.holdMac = undefined;
        s.holdUntil = 0;
        const prev = s.record;
        if (prev && prev.mac !== op.mac && this.byMac.get(prev.mac) === idx) this.byMac.delete(prev.mac);
        const starts =
          prev && prev.mac === op.mac && prev.state === 'bound' && prev.expires > now ? prev.starts : now;
        this.write(idx, {
          ip: formatIp(op.ip),
          mac: op.mac,
          clientId: op.clientId,
          hostname: op.hostname,
          state: 'bound',
          starts,
          expires: op.expires,
          updatedAt: now,
        });
        this.byMac.set(op.mac, idx);
        return;
      }
      case 'release': {
        const idx = this.index(op.ip);
        if (idx < 0) return;
        const r = this.slots[idx]!.record;
        if (!r || r.mac !== op.mac || r.state !== 'bound') return;
        this.write(idx, { ...r, state: 'released', expires: now, updatedAt: now });
        this.exhaustedUntil = 0;
        return;
      }
      case 'decline': {
        const idx = this.index(op.ip);
        if (idx < 0) return;
        const s = this.slots[idx]!;
        s.holdMac = undefined;
        s.holdUntil = 0;
        if (this.byMac.get(op.mac) === idx) this.byMac.delete(op.mac);
        this.write(idx, {
          ip: formatIp(op.ip),
          mac: op.mac,
          clientId: null,
          hostname: null,
          state: 'declined',
          starts: now,
          expires: op.until,
          updatedAt: now,
        });
        return;
      }
    }
  }

  private dropHold(mac: string, exceptIdx: number): void {
    const idx = this.byMac.get(mac);
    if (idx === undefined || idx === exceptIdx) return;
    const s = this.slots[idx]!;
    if (s.holdMac === mac) {
      s.holdMac = undefined;
      s.holdUntil = 0;
      this.exhaustedUntil = 0;
    }
  }

  private write(idx: number, record: LeaseRecord): void {
    this.slots[idx]!.record = record;
    this.sink.persist(record, this.range.start + idx);
  }

  counts(now: number): LeaseCounts {
    const c: LeaseCounts = { size: this.slots.length, bound: 0, offered: 0, declined: 0, free: 0 };
    for (const s of this.slots) {
      if (s.holdMac !== undefined && s.holdUntil > now) c.offered++;
      else if (s.record && s.record.expires > now && s.record.state === 'bound') c.bound++;
      else if (s.record && s.record.expires > now && s.record.state === 'declined') c.declined++;
      else c.free++;
    }
    return c;
  }

  /** Every persisted row plus in-memory offers, for listings. */
  snapshot(now: number): Array<LeaseRecord & { offeredUntil?: number }> {
    const out: Array<LeaseRecord & { offeredUntil?: number }> = [];
    this.slots.forEach((s, idx) => {
      if (s.holdMac !== undefined && s.holdUntil > now) {
        out.push({
          ...(s.record ?? {
            clientId: null,
            hostname: null,
            starts: now,
            expires: now,
            updatedAt: now,
            state: 'released',
          }),
          ip: formatIp(this.range.start + idx),
          mac: s.holdMac,
          offeredUntil: s.holdUntil,
        });
      } else if (s.record) {
        out.push(s.record);
      }
    });
    for (const r of this.outside.values()) out.push(r);
    return out;
  }
}

/** Sorts rows by address (numeric), for listings. */
export function byAddress(a: { ip: string }, b: { ip: string }): number {
  return parseIpStrict(a.ip) - parseIpStrict(b.ip);
}
