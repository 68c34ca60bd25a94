import type { GatehouseConfig } from '../config/index.js';
import { type HaRoleSource, haOf } from '../ha/service.js';
import type { HttpServer } from '../http/server.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Service, ServiceContext } from '../service.js';
import type { Store } from '../store/index.js';
import { SyncHub } from '../sync/hub.js';
import { createSyncVhost } from '../sync/vhost.js';
import { storeDirectory } from './directory.js';
import { presenceRoutes } from './http.js';
import {
  type FeedEntry,
  loadState,
  PRESENCE_HOSTS_TABLE,
  PRESENCE_SESSIONS_TABLE,
  PresencePersistence,
  type Restored,
} from './persist.js';
import {
  type LoginOutcome,
  type LogoutOutcome,
  type PresenceDirectory,
  type PresenceMessage,
  PresenceRules,
} from './rules.js';

/**
 * What other services read from presence (SSO, firewall): the sessions as a long-lived
 * presencesync subscriber sees them (login → hostname), and a change notification.
 */
export interface PresenceSource {
  sessions(): ReadonlyMap<string, string>;
  onChange(fn: () => void): () => void;
}

export const PRESENCE_SERVICE_NAME = 'presencesync';

export interface PresenceServiceOptions {
  config: GatehouseConfig;
  store: Store;
  logger: Logger;
  metrics: Metrics;
  http: HttpServer;
  /** Unix time in seconds (tests); defaults to the wall clock. */
  now?: () => number;
  /** Overrides the store-backed MDB/UDB lookups (tests). */
  directory?: PresenceDirectory;
  /** The HA role (src/ha): a standby mirrors the sessions the primary replicates. */
  ha?: HaRoleSource;
}

function rulesFrom(restored: Restored, timeout: number, now: () => number, start: number): PresenceRules {
  return new PresenceRules({
    timeout,
    now,
    restored: restored.rules,
    // A recent saved state knows every session: no need to wait for heartbeats.
    ...(restored.fresh ? { loginsFrom: start } : {}),
  });
}

/**
 * The presencesync service (spec §9): the rules, the `presencesync` virtual host, the feed
 * and the expiry loop. The original ran the loop as a thread POSTing `/remove_expired` to
 * itself through nginx every TIMEOUT/2; here it is an in-process timer doing the same call.
 */
export class PresenceService implements Service, PresenceSource {
  readonly name = PRESENCE_SERVICE_NAME;
  readonly hub: SyncHub;
  /** Replaced as a whole when an HA standby adopts the replicated sessions. */
  rules: PresenceRules;
  private config: GatehouseConfig;
  private readonly logger: Logger;
  private readonly directory: PresenceDirectory;
  /** login → hostname as every message published so far leaves a subscriber's state. */
  private readonly feed: Map<string, FeedEntry>;
  private nextFeedOrder = 0;
  private readonly persistence: PresencePersistence;
  /** The write of the latest change of who is where (answers wait for it). */
  private lastSave: Promise<void> = Promise.resolve();
  private readonly restoredFrom: { sessions: number; fresh: boolean; savedAt: number | undefined };
  private readonly listeners = new Set<() => void>();
  private unfollowHa: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly loginFailed;
  private readonly sessionsGauge;

  constructor(private readonly opts: PresenceServiceOptions) {
    this.config = opts.config;
    this.logger = opts.logger.child({ part: 'presence' });
    this.now = opts.now ?? (() => Date.now() / 1000);
    const timeout = opts.config.presence.timeout;
    const start = this.now();
    const restored = loadState(opts.store, { now: start, timeout });
    this.rules = rulesFrom(restored, timeout, this.now, start);
    this.feed = restored.feed;
    for (const e of this.feed.values()) this.nextFeedOrder = Math.max(this.nextFeedOrder, e.order + 1);
    this.restoredFrom = {
      sessions: restored.rules.sessions.length,
      fresh: restored.fresh,
      savedAt: restored.savedAt,
    };
    this.persistence = new PresencePersistence({
      store: opts.store,
      logger: this.logger,
      state: () => ({ rules: this.rules.state(), feed: this.feed }),
      now: this.now,
      // Refreshes wait at most this long; well inside the grace a restart grants (TIMEOUT/2).
      flushIntervalMs: Math.max(100, Math.min(5000, (timeout * 1000) / 4)),
      // An HA standby's store takes only the primary's rows (the write would be refused).
      writable: () => !this.standby(),
    });
    this.directory = opts.directory ?? storeDirectory(opts.store);
    // Name, labels and meaning of the original's Prometheus counter (spec §1.5).
    this.loginFailed = opts.metrics.counter(
      'presencesync_login_failed',
      'Login requests refused by presencesync',
      ['reason', 'user'],
    );
    this.sessionsGauge = opts.metrics.gauge(
      'gatehouse_presence_sessions',
      'Presence sessions held by presencesync',
    );
    this.hub = new SyncHub({
      pk: 'login',
      name: 'presencesync',
      logger: this.logger,
      metrics: opts.metrics,
      maxStreams: opts.config.http.maxStreamsPerFeed,
      // A new subscriber first makes expired sessions go (announced to the others), then gets
      // every current session — including displaced users still waiting for their expiry.
      beforeSnapshot: () => {
        this.publish(this.rules.expire(), 'expiry');
        this.hub.replaceAll(this.rules.records());
      },
    });
  }

  async start(): Promise<void> {
    const cfg = () => this.config;
    this.opts.http.vhost(
      'presencesync',
      createSyncVhost({
        hub: this.hub,
        pubSecret: () => cfg().secrets.presencesyncPub,
        subSecret: () => cfg().secrets.presencesyncSub,
        timeauthEnabled: () => cfg().timeauth.enabled,
        allowUpdate: false,
        maxBodyBytes: Math.min(cfg().http.maxBodyBytes, 64 * 1024),
        logger: this.logger,
        metrics: this.opts.metrics,
        routes: presenceRoutes(this, {
          pubSecret: () => cfg().secrets.presencesyncPub,
          subSecret: () => cfg().secrets.presencesyncSub,
          timeauthEnabled: () => cfg().timeauth.enabled,
          maxBodyBytes: Math.min(cfg().http.maxBodyBytes, 64 * 1024),
          metrics: this.opts.metrics,
          now: this.now,
        }),
        now: this.now,
      }),
    );
    this.hub.replaceAll(this.rules.records());
    this.followHa();
    // Saved sessions whose machines stopped beating while Gatehouse was down go now.
    this.removeExpired('expiry');
    this.persistence.start();
    this.sessionsGauge.set(this.rules.size);
    const periodMs = Math.max(100, (this.rules.timeout * 1000) / 2);
    this.timer = setInterval(() => this.removeExpired('timer'), periodMs);
    const { savedAt, ...restored } = this.restoredFrom;
    this.logger.info('presence.started', {
      timeout: this.rules.timeout,
      loginsFrom: new Date(this.rules.embargoEndsAt * 1000).toISOString(),
      restoredSessions: restored.sessions,
      sessions: this.rules.size,
      savedAt: savedAt === undefined ? null : new Date(savedAt * 1000).toISOString(),
    });
  }

  private standby(): boolean {
    return this.opts.ha?.currentRole === 'standby';
  }

  /**
   * HA (docs/ha.md "Presence and the firewall"): a standby's sessions are the primary's, as
   * replicated into the store — re-read after every replicated write of the presence tables —
   * and at promotion the new primary starts from the last state the old one committed, as a
   * restart would. So the firewall's allowed set follows the primary's on both gateways.
   */
  private followHa(): void {
    const ha = this.opts.ha;
    if (!ha) return;
    let pending = false;
    this.unfollowHa = ha.onReplicated((tables) => {
      if (!tables.has(PRESENCE_SESSIONS_TABLE) && !tables.has(PRESENCE_HOSTS_TABLE)) return;
      if (pending || !this.standby()) return;
      // One re-read for a burst of replicated transactions.
      pending = true;
      setImmediate(() => {
        pending = false;
        if (this.standby()) this.adoptStored('replicated');
      });
    });
    ha.onRole((role) => this.adoptStored(role === 'primary' ? 'promoted' : 'standby'));
    if (this.standby()) this.adoptStored('standby');
  }

  /** Replaces the sessions held in memory by the stored ones; tells the listeners if any moved. */
  adoptStored(cause: string): void {
    const start = this.now();
    const restored = loadState(this.opts.store, { now: start, timeout: this.rules.timeout });
    const before = this.sessions();
    this.rules = rulesFrom(restored, this.rules.timeout, this.now, start);
    this.feed.clear();
    for (const [login, e] of restored.feed) {
      this.feed.set(login, e);
      this.nextFeedOrder = Math.max(this.nextFeedOrder, e.order + 1);
    }
    this.hub.replaceAll(this.rules.records());
    this.sessionsGauge.set(this.rules.size);
    const after = this.sessions();
    const moved = before.size !== after.size || [...after].some(([l, h]) => before.get(l) !== h);
    const fields = { cause, sessions: this.rules.size, changed: moved };
    if (cause === 'replicated') this.logger.debug('presence.adopted_store', fields);
    else this.logger.info('presence.adopted_store', fields);
    if (moved || cause === 'promoted') this.tell();
  }

  async stop(): Promise<void> {
    this.unfollowHa?.();
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.hub.close();
    await this.persistence.stop();
  }

  reload(config: GatehouseConfig): void {
    if (config.presence.timeout !== this.rules.timeout) {
      this.logger.warn('presence.reload_timeout_ignored', {
        running: this.rules.timeout,
        configured: config.presence.timeout,
        reason: 'the session timeout applies from the next start',
      });
    }
    this.config = config;
  }

  // --- PresenceSource ---------------------------------------------------------------------

  /** A copy: callers may keep it to compare with the next one. */
  sessions(): ReadonlyMap<string, string> {
    const out = new Map<string, string>();
    for (const [login, e] of this.feed) out.set(login, e.hostname);
    return out;
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  // --- operations (the HTTP handlers call these) -------------------------------------------

  login(login: string, hostname: string): LoginOutcome {
    // A standby's sessions are the primary's: what it accepted here would not be kept.
    this.opts.ha?.assertPrimary();
    const outcome = this.rules.login(login, hostname, this.directory);
    if (outcome.counted) this.loginFailed.inc({ reason: outcome.counted, user: login });
    this.publish(outcome.messages, 'login');
    return outcome;
  }

  logout(login: string, hostname: string): LogoutOutcome {
    this.opts.ha?.assertPrimary();
    const outcome = this.rules.logout(login, hostname);
    this.publish(outcome.messages, 'logout');
    return outcome;
  }

  heartbeat(login: string, hostname: string): void {
    this.opts.ha?.assertPrimary();
    this.publish(this.rules.heartbeat(login, hostname), 'heartbeat');
  }

  removeExpired(cause: string): void {
    // A standby's sessions expire on the primary; the result replicates here.
    if (this.standby()) return;
    this.publish(this.rules.expire(), cause === 'timer' ? 'expiry' : cause);
  }

  getList(): Map<string, string> {
    const { list, messages } = this.rules.list();
    this.publish(messages, 'expiry');
    return list;
  }

  /** Resolves once the latest change of who is where is in the store (answers wait for it). */
  saved(): Promise<void> {
    return this.lastSave;
  }

  /** Broadcasts `messages` in order, keeps the feed view, then tells the listeners once. */
  private publish(messages: readonly PresenceMessage[], cause: string): void {
    if (messages.length === 0) return;
    let resync = false;
    for (const message of messages) {
      this.hub.publish(message);
      for (const u of message) {
        const login = u.data.login as string;
        if (u.type === 'delete') {
          this.feed.delete(login);
          resync = true;
          this.logger.info('presence.session_ended', { login, cause });
        } else {
          const hostname = u.data.hostname as string;
          // Re-inserted at the end so the latest session wins where two claim one machine.
          this.feed.delete(login);
          this.feed.set(login, { hostname, order: this.nextFeedOrder++ });
          this.logger.info('presence.session_started', { login, hostname, cause });
        }
      }
    }
    // A delete may name a user the rules still hold (displaced); the hub's backlog must stay
    // what a new subscriber is owed, so it is realigned with the rules.
    if (resync) this.hub.replaceAll(this.rules.records());
    this.lastSave = this.persistence.saveNow();
    this.sessionsGauge.set(this.rules.size);
    this.tell();
  }

  private tell(): void {
    for (const fn of this.listeners) {
      try {
        fn();
      } catch (e) {
        this.logger.error('presence.listener_failed', { error: e });
      }
    }
  }
}

/** `serviceFactories` entry: presencesync unless `presence.enabled` is false. */
export function presenceServiceFactory(ctx: ServiceContext): PresenceService | undefined {
  if (!ctx.config.presence.enabled) return undefined;
  return new PresenceService({
    config: ctx.config,
    store: ctx.store,
    logger: ctx.logger,
    metrics: ctx.metrics,
    http: ctx.http,
    ha: haOf(ctx),
  });
}

/** The running presence service among `ctx.services`, if any. */
export function findPresence(services: readonly Service[]): PresenceService | undefined {
  return services.find((s): s is PresenceService => s instanceof PresenceService);
}
