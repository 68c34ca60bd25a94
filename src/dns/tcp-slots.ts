/**
 * Which TCP connection makes room for a new one (RFC 7766 §6.2.2–6.2.3): bookkeeping only,
 * no sockets or timers, so the policy can be tested and reasoned about on its own.
 *
 * A client at its per-client limit, or a server at its global limit, does not refuse the new
 * connection: the server "may close idle connections when it needs to" (§6.2.3), so the oldest
 * idle connection (no query in flight) of that client — or, at the global limit, of the client
 * holding the most connections — is closed instead. Only when every candidate is busy is the
 * new connection refused. Otherwise one address (a NAT, a relay, the alien network) that keeps
 * idle connections open would deny TCP DNS to everybody behind it.
 */
export interface SlotLimits {
  maxConnections: number;
  maxConnectionsPerClient: number;
}

export type EvictionReason = 'idle_evicted_per_client' | 'idle_evicted_global';
export type RefusalReason = 'per_client' | 'max_connections';

export interface Admission<C> {
  /** Connections to close now; they are already forgotten here. */
  evicted: { conn: C; reason: EvictionReason }[];
  /** Set when the new connection must be refused: every candidate for eviction is busy. */
  refused?: RefusalReason;
}

interface ClientSlots<C> {
  count: number;
  /** Idle connections in the order they became idle: the first is the one idle longest. */
  idle: Set<C>;
}

export class TcpSlots<C> {
  private readonly clients = new Map<string, ClientSlots<C>>();
  private readonly owner = new Map<C, string>();

  constructor(private readonly limits: () => SlotLimits) {}

  get size(): number {
    return this.owner.size;
  }

  countOf(client: string): number {
    return this.clients.get(client)?.count ?? 0;
  }

  /**
   * Makes room for one more connection of `client`; `add` must follow an admission that is not
   * refused. Evictions stand even when the admission is then refused: they only happen to idle
   * connections above a limit (possible after a reload lowered it), which are surplus anyway.
   */
  admit(client: string): Admission<C> {
    const { maxConnections, maxConnectionsPerClient } = this.limits();
    const evicted: { conn: C; reason: EvictionReason }[] = [];
    // Limits lowered by a reload may leave a client far above its new limit: evict down to it.
    while (this.countOf(client) >= maxConnectionsPerClient) {
      const victim = this.oldestIdle(client);
      if (victim === undefined) return { evicted, refused: 'per_client' };
      this.remove(victim);
      evicted.push({ conn: victim, reason: 'idle_evicted_per_client' });
    }
    while (this.owner.size >= maxConnections) {
      const victim = this.globalVictim();
      if (victim === undefined) return { evicted, refused: 'max_connections' };
      this.remove(victim);
      evicted.push({ conn: victim, reason: 'idle_evicted_global' });
    }
    return { evicted };
  }

  /** A new connection starts idle (no query yet). */
  add(client: string, conn: C): void {
    let c = this.clients.get(client);
    if (!c) {
      c = { count: 0, idle: new Set() };
      this.clients.set(client, c);
    }
    c.count++;
    c.idle.add(conn);
    this.owner.set(conn, client);
  }

  /** A query arrived: the connection cannot be evicted until it is idle again. */
  busy(conn: C): void {
    const client = this.owner.get(conn);
    if (client !== undefined) this.clients.get(client)?.idle.delete(conn);
  }

  /** Nothing in flight any more: the connection goes to the back of its client's idle queue. */
  idle(conn: C): void {
    const client = this.owner.get(conn);
    if (client === undefined) return;
    const c = this.clients.get(client)!;
    c.idle.delete(conn);
    c.idle.add(conn);
  }

  /** Forgets a connection (closed, or evicted); closing an evicted one again is harmless. */
  remove(conn: C): void {
    const client = this.owner.get(conn);
    if (client === undefined) return;
    this.owner.delete(conn);
    const c = this.clients.get(client)!;
    c.idle.delete(conn);
    if (--c.count <= 0) this.clients.delete(client);
  }

  private oldestIdle(client: string): C | undefined {
    const c = this.clients.get(client);
    if (!c) return undefined;
    for (const conn of c.idle) return conn;
    return undefined;
  }

  /** The oldest idle connection of the client holding the most connections (among those with one idle). */
  private globalVictim(): C | undefined {
    let best: ClientSlots<C> | undefined;
    for (const c of this.clients.values()) {
      if (c.idle.size > 0 && (!best || c.count > best.count)) best = c;
    }
    if (!best) return undefined;
    for (const conn of best.idle) return conn;
    return undefined;
  }
}
