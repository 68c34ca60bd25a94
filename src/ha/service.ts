import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GatehouseConfig } from '../config/index.js';
import { errorMessage } from '../errors.js';
import { readBody, sendJson } from '../http/respond.js';
import type { RequestContext } from '../http/server.js';
import type { Logger } from '../log.js';
import type { Service, ServiceContext } from '../service.js';
import type { CommittedWrites, Store } from '../store/index.js';
import { holdsAddresses } from './addresses.js';
import type { HaConfig } from './config.js';
import { StandbyError } from './errors.js';
import { ReplicationFeed } from './feed.js';
import { Follower } from './follower.js';
import { Journal } from './journal.js';
import { type HaMetrics, haMetrics } from './metrics.js';
import { SyncWaiter } from './sync-waiter.js';
import type { JournalEntry } from './wire.js';

export type HaRole = 'primary' | 'standby';
export type RoleListener = (role: HaRole) => void | Promise<void>;
/**
 * Told, on a standby, the tables a replicated transaction (or snapshot) wrote, after its
 * commit: unlogged tables (presence sessions, DNS serials) raise no change events.
 */
export type ReplicatedListener = (tables: ReadonlySet<string>) => void;

/** What other services need from HA: the role, its changes, and replicated writes. */
export interface HaRoleSource {
  readonly currentRole: HaRole;
  onRole(listener: RoleListener): void;
  onReplicated(listener: ReplicatedListener): () => void;
  /** Throws the standby refusal (503 `GH_HA_STANDBY`) unless this gateway is the primary. */
  assertPrimary(): void;
}

/** What `gatehouse ha status` shows. */
export interface HaStatus {
  node: string;
  role: HaRole;
  why: string;
  term: number;
  mode: 'sync' | 'async';
  /** Replicated transactions applied (or written) here, and the store's change sequence. */
  appliedR: number;
  seq: number;
  /** The primary's position as last heard (a standby), or this one's (a primary). */
  primaryR: number;
  lagTransactions: number;
  lagMs: number;
  following?: {
    peer: string;
    connected: boolean;
    primaryNode: string;
    primaryTerm: number;
    snapshots: number;
  };
  standby?: { connected: number; ackedR: number; syncDegraded: boolean; degradations: number };
  keepalived?: { state: string; at: string };
}

/**
 * The hot standby (docs/ha.md). Started first so its write gate is in place before any
 * service writes. Role = primary only while this host holds every floating address (unless
 * forced by `ha.role`); a standby refuses writes to replicated tables at the store's write
 * entry, follows the peer's journal, and keeps the services registered with `onRole`
 * (DHCP) stopped.
 */
export class HaService implements Service, HaRoleSource {
  readonly name = 'ha';
  private cfg: HaConfig;
  private secret: string;
  private role: HaRole = 'standby';
  private why = 'starting';
  private readonly store: Store;
  private readonly logger: Logger;
  private readonly journal: Journal;
  private readonly feed: ReplicationFeed;
  private follower: Follower | undefined;
  private readonly sync: SyncWaiter;
  private readonly m: HaMetrics;
  private readonly listeners: RoleListener[] = [];
  private readonly replicatedListeners = new Set<ReplicatedListener>();
  private timer: NodeJS.Timeout | undefined;
  private transition: Promise<void> = Promise.resolve();
  private keepalived: { state: string; at: string } | undefined;
  private sinceCompact = 0;

  constructor(ctx: ServiceContext) {
    this.cfg = ctx.config.ha;
    this.secret = ctx.config.secrets.haReplication;
    this.store = ctx.store;
    this.logger = ctx.logger.child({ part: 'ha' });
    this.journal = new Journal(ctx.store);
    this.m = haMetrics(ctx.metrics);
    this.feed = new ReplicationFeed({
      store: this.store,
      journal: this.journal,
      logger: this.logger,
      node: () => this.cfg.node,
      term: () => this.journal.term,
      replicatedTables: () => this.store.tableNames().filter((t) => this.replicated(t)),
      heartbeatMs: 250,
    });
    this.sync = new SyncWaiter(this.cfg.syncTimeoutMs, (degraded, why) => {
      this.m.syncDegraded.set(degraded ? 1 : 0);
      if (degraded) this.logger.warn('ha.sync_degraded', { why });
      else this.logger.info('ha.sync_restored', { why });
    });
    ctx.routes.add('/ha/v1/', (req, res, rctx) => this.route(req, res, rctx));
  }

  /** The follower of `ha.peer` (rebuilt when the peer changes). */
  private async followerFor(): Promise<Follower | undefined> {
    const peer = this.cfg.peer;
    if (this.follower && this.follower.peer !== peer) {
      await this.follower.close();
      this.follower = undefined;
    }
    if (!this.follower && peer) {
      this.follower = new Follower({
        store: this.store,
        journal: this.journal,
        logger: this.logger,
        peer,
        secret: () => this.secret,
        node: this.cfg.node,
        retryMs: this.cfg.retryMs,
        onApplied: (x) => {
          this.m.applyLag.observe(Math.max(0, Date.now() - x.ts) / 1000);
          this.updateGauges();
          this.tellReplicated(new Set(x.w.map((w) => w[0])));
        },
        onSnapshot: (tables) => this.tellReplicated(new Set(tables)),
      });
    }
    return this.follower;
  }

  private replicated(table: string): boolean {
    return !this.cfg.localTables.includes(table);
  }

  get currentRole(): HaRole {
    return this.role;
  }

  /** Registers a service that runs only on the primary; called now with the current role. */
  onRole(listener: RoleListener): void {
    this.listeners.push(listener);
  }

  assertPrimary(): void {
    if (this.role !== 'primary') throw new StandbyError(this.cfg.node, this.why);
  }

  /** Subscribes to replicated writes applied here (a standby); returns the unsubscribe function. */
  onReplicated(listener: ReplicatedListener): () => void {
    this.replicatedListeners.add(listener);
    return () => this.replicatedListeners.delete(listener);
  }

  private tellReplicated(tables: ReadonlySet<string>): void {
    if (tables.size === 0) return;
    for (const l of this.replicatedListeners) {
      try {
        l(tables);
      } catch (e) {
        this.logger.error('ha.replicated_listener_failed', { error: errorMessage(e) });
      }
    }
  }

  async start(): Promise<void> {
    this.store.setReplicationHooks<JournalEntry>({
      admit: (tables) => {
        if (this.role === 'primary') return;
        for (const t of tables) if (this.replicated(t)) throw new StandbyError(this.cfg.node, this.why);
      },
      journal: (tx) => (this.role === 'primary' ? this.record(tx) : undefined),
      committed: (x) => this.committed(x),
      // Numbers stay dense: the next entry takes the number of the one that did not commit.
      aborted: () => this.journal.reload(),
    });
    await this.evaluate();
    this.timer = setInterval(() => void this.evaluate(), this.cfg.addressCheckMs);
    this.timer.unref();
  }

  /** Inside the write transaction: the journal entry of a primary's transaction. */
  private record(tx: CommittedWrites): JournalEntry | undefined {
    const w = tx.writes.filter((x) => this.replicated(x[0]));
    if (w.length === 0 && tx.events.length === 0) return undefined;
    const at = this.journal.position();
    const x: JournalEntry = {
      r: at.r + 1,
      t: this.journal.term,
      n: this.cfg.node,
      ts: Date.now(),
      w,
      e: tx.events,
    };
    this.journal.append(x);
    return x;
  }

  private committed(x: JournalEntry): Promise<void> | undefined {
    this.feed.publish(x);
    this.m.position.set(x.r);
    if (++this.sinceCompact >= Math.min(1000, this.cfg.journalMax)) {
      this.sinceCompact = 0;
      void this.journal.compact(this.cfg.journalMax).catch((e: unknown) => {
        this.logger.error('ha.compact_failed', { error: errorMessage(e) });
      });
    }
    if (this.cfg.mode !== 'sync' || this.role !== 'primary') return undefined;
    if (this.feed.connected === 0) {
      if (!this.sync.degraded) this.sync.degrade('no standby is connected');
      return undefined;
    }
    if (this.sync.degraded) return undefined;
    const t0 = performance.now();
    return this.sync.wait(x.r).then(() => this.m.syncWait.observe((performance.now() - t0) / 1000));
  }

  private desiredRole(): { role: HaRole; why: string } {
    if (this.cfg.role === 'primary') return { role: 'primary', why: 'forced by ha.role' };
    if (this.cfg.role === 'standby') return { role: 'standby', why: 'forced by ha.role' };
    return holdsAddresses(this.cfg.floatingAddresses)
      ? { role: 'primary', why: 'holds the floating addresses' }
      : { role: 'standby', why: 'does not hold the floating addresses' };
  }

  /** Checks the role and runs one transition at a time. */
  evaluate(): Promise<void> {
    this.transition = this.transition.then(async () => {
      const want = this.desiredRole();
      if (want.role === this.role && this.why !== 'starting') return;
      this.why = want.why;
      if (want.role === 'primary') await this.promote();
      else await this.demote();
    });
    return this.transition.catch((e: unknown) =>
      this.logger.error('ha.transition_failed', { error: errorMessage(e) }),
    );
  }

  private async promote(): Promise<void> {
    const t0 = performance.now();
    // Everything received from the old primary is applied before this store takes writes.
    await this.follower?.stop();
    const term = Math.max(this.journal.term, this.follower?.primaryTerm ?? 0) + 1;
    await this.journal.setTerm(term);
    this.role = 'primary';
    this.sync.degraded = false;
    this.m.role.set(1);
    this.m.term.set(term);
    this.logger.info('ha.promoted', {
      node: this.cfg.node,
      term,
      r: this.journal.position().r,
      seq: this.store.lastSeq,
      why: this.why,
    });
    await this.notify('primary');
    this.logger.info('ha.primary_ready', { ms: Math.round(performance.now() - t0) });
  }

  private async demote(): Promise<void> {
    const was = this.role;
    this.role = 'standby';
    this.m.role.set(0);
    this.feed.closeAll();
    this.sync.degrade('this gateway is no longer primary');
    if (was === 'primary') this.logger.warn('ha.demoted', { node: this.cfg.node, why: this.why });
    else this.logger.info('ha.standby', { node: this.cfg.node, why: this.why });
    await this.notify('standby');
    (await this.followerFor())?.start();
  }

  private async notify(role: HaRole): Promise<void> {
    for (const l of this.listeners) {
      try {
        await l(role);
      } catch (e) {
        this.logger.error('ha.role_listener_failed', { role, error: errorMessage(e) });
      }
    }
  }

  private updateGauges(): void {
    const s = this.status();
    this.m.position.set(s.appliedR);
    this.m.lagTransactions.set(s.lagTransactions);
    this.m.lagSeconds.set(s.lagMs / 1000);
    this.m.term.set(s.term);
  }

  status(): HaStatus {
    const at = this.journal.position();
    const base = {
      node: this.cfg.node,
      role: this.role,
      why: this.why,
      term: this.journal.term,
      mode: this.cfg.mode,
      appliedR: at.r,
      seq: this.store.lastSeq,
      ...(this.keepalived ? { keepalived: this.keepalived } : {}),
    };
    if (this.role === 'primary') {
      return {
        ...base,
        primaryR: at.r,
        lagTransactions: this.feed.connected > 0 ? at.r - this.sync.ackedR : 0,
        lagMs: 0,
        standby: {
          connected: this.feed.connected,
          ackedR: this.sync.ackedR,
          syncDegraded: this.sync.degraded,
          degradations: this.sync.degradations,
        },
      };
    }
    const f = this.follower;
    const primaryR = Math.max(f?.primaryR ?? 0, at.r);
    return {
      ...base,
      primaryR,
      lagTransactions: primaryR - at.r,
      lagMs: primaryR > at.r ? (f?.lastLagMs ?? 0) : 0,
      ...(f
        ? {
            following: {
              peer: this.cfg.peer ?? '',
              connected: f.connected,
              primaryNode: f.primaryNode,
              primaryTerm: f.primaryTerm,
              snapshots: f.snapshotsTaken,
            },
          }
        : {}),
    };
  }

  notReady(): string | undefined {
    if (
      this.role === 'primary' &&
      this.cfg.mode === 'sync' &&
      (this.sync.degraded || this.feed.connected === 0)
    ) {
      return 'replication degraded to asynchronous: no standby acknowledges writes (see gatehouse ha status)';
    }
    return undefined;
  }

  private authorized(req: IncomingMessage): boolean {
    const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
    if (!m) return false;
    const a = Buffer.from(m[1]!.trim());
    const b = Buffer.from(this.secret);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  private async route(req: IncomingMessage, res: ServerResponse, ctx: RequestContext): Promise<void> {
    if (!this.authorized(req)) {
      sendJson(res, 401, {
        error: 'send "Authorization: Bearer <secrets.haReplication>"',
        code: 'GH_UNAUTHORIZED',
      });
      return;
    }
    const path = ctx.url.pathname;
    const q = ctx.url.searchParams;
    if (req.method === 'GET' && path === '/ha/v1/log') {
      if (this.role !== 'primary') {
        sendJson(res, 503, {
          error: `gateway ${this.cfg.node} is the standby; follow the primary`,
          code: 'GH_HA_STANDBY',
        });
        return;
      }
      const theirTerm = Number(q.get('term') ?? 0);
      if (theirTerm >= this.journal.term) {
        // The peer has been primary in a term this one never saw (a partition); this gateway
        // holds the addresses, so its history wins: move past that term.
        await this.journal.setTerm(theirTerm + 1);
        this.m.term.set(this.journal.term);
        this.logger.warn('ha.term_bumped', { peer: q.get('node'), theirTerm, term: this.journal.term });
      }
      const from = { r: Number(q.get('r') ?? 0), t: Number(q.get('t') ?? 0), n: q.get('n') ?? '' };
      this.feed.serve(res, from, q.get('node') ?? ctx.remoteAddress, q.get('snapshot') === '1');
      return;
    }
    if (req.method === 'POST' && path === '/ha/v1/ack') {
      const body = JSON.parse((await readBody(req, 4096)).toString('utf8')) as { r?: unknown };
      if (typeof body.r !== 'number') {
        sendJson(res, 400, { error: 'body must be {"r": <applied transaction>}', code: 'GH_BAD_REQUEST' });
        return;
      }
      this.sync.ack(body.r, this.journal.position().r);
      this.m.lagTransactions.set(Math.max(0, this.journal.position().r - this.sync.ackedR));
      sendJson(res, 200, { ok: true });
      return;
    }
    if (req.method === 'GET' && path === '/ha/v1/status') {
      this.updateGauges();
      sendJson(res, 200, this.status());
      return;
    }
    if (req.method === 'POST' && path === '/ha/v1/notify') {
      const state = q.get('state') ?? 'unknown';
      this.keepalived = { state, at: new Date().toISOString() };
      this.logger.info('ha.keepalived_notify', { state });
      await this.evaluate();
      sendJson(res, 200, this.status());
      return;
    }
    sendJson(res, 404, { error: `no ${req.method} ${path}`, code: 'GH_NOT_FOUND' });
  }

  async reload(config: GatehouseConfig): Promise<void> {
    const peerChanged = config.ha.peer !== this.cfg.peer;
    this.cfg = config.ha;
    this.secret = config.secrets.haReplication;
    this.sync.setTimeoutMs(config.ha.syncTimeoutMs);
    await this.evaluate();
    if (peerChanged && this.role === 'standby') {
      await this.transition;
      (await this.followerFor())?.start();
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.transition.catch(() => {});
    this.feed.stop();
    this.sync.degrade('stopping');
    await this.follower?.close();
    this.store.setReplicationHooks({});
  }
}

export function haServiceFactory(ctx: ServiceContext): Service | undefined {
  if (!ctx.config.ha.enabled) return undefined;
  return new HaService(ctx);
}

/** The running HA service, when enabled. */
export function haOf(ctx: ServiceContext): HaService | undefined {
  return ctx.services.find((s): s is HaService => s instanceof HaService);
}
