import path from 'node:path';
import type { GatehouseConfig } from '../config/index.js';
import { errorMessage } from '../errors.js';
import { type HaRoleSource, haOf } from '../ha/service.js';
import type { Logger } from '../log.js';
import { MDB_TABLES, type Machine, machinesTable } from '../mdb/model.js';
import type { Metrics } from '../metrics.js';
import type { Service, ServiceContext } from '../service.js';
import type { ChangeEvent, Store } from '../store/index.js';
import { UDB_TABLES, type UserGroup, usersTable } from '../udb/model.js';
import { type AllowedResult, computeAllowed } from './allowed.js';
import { ConnectionLogFile } from './connlog-file.js';
import type { CtEntry } from './conntrack/codec.js';
import { type Attribution, connectionFields, connectionLine } from './conntrack/format.js';
import { ConntrackLogger } from './conntrack/logger.js';
import { firewallRoute } from './http.js';
import { InterfaceNames } from './ifnames.js';
import type { RawSocketFactory } from './netlink/socket.js';
import { kernelLogText } from './nflog/log-line.js';
import { type NflogPacket, NflogReader } from './nflog/reader.js';
import { type PresenceSource, noPresence, presenceAmong } from './presence.js';
import { type RulesetCheck, checkRuleset } from './ruleset-check.js';
import {
  ALLOWED_SET,
  type RulesetPlan,
  allowedSetMessages,
  planFromConfig,
  removeRulesetMessages,
  rulesetMessages,
} from './ruleset.js';
import { FIREWALL_STATE_TABLE, readContest, writeContest } from './state.js';
import { NftClient } from './tables/client.js';
import { FAMILIES } from './tables/constants.js';

export const FIREWALL_SERVICE_NAME = 'firewall';

export interface FirewallDeps {
  config: GatehouseConfig;
  store: Store;
  logger: Logger;
  metrics: Metrics;
  /** Sessions (login → hostname); the lead wires presencesync, tests pass a fake. */
  presence?: PresenceSource;
  /** A fake kernel for unprivileged tests. */
  rawFactory?: RawSocketFactory;
  /**
   * The HA role (src/ha). Both gateways keep the ruleset loaded and the allowed set computed
   * from the (replicated) presence sessions; a promotion re-applies the set before the new
   * primary reports ready (docs/ha.md "Presence and the firewall").
   */
  ha?: HaRoleSource;
  now?: () => Date;
}

export interface RecomputeOutcome {
  at: string;
  reason: string;
  result: AllowedResult['kind'] | 'down' | 'failed';
  applied: boolean;
  count: number;
  error?: string;
}

export interface FirewallStatus {
  up: boolean;
  table: string;
  contest: boolean;
  allowedGroups: UserGroup[];
  allowed: string[];
  lastRecompute: RecomputeOutcome | undefined;
  recomputes: number;
  nflog: NflogReader['stats'] | undefined;
  conntrack: ConntrackLogger['stats'] | undefined;
  connectionLog: { file: string } & ConnectionLogFile['stats'];
}

/**
 * The firewall of spec §11: owns table `inet <firewall.table>`, keeps allowed_internet_access
 * equal to computeAllowed(MDB, UDB, presence, allowed groups) — recomputed on every change of
 * those and on contest switches and reloads, each applied as one flush+add transaction — and
 * writes the connection log from two sources: the forward chain's `log group` (every new LAN
 * connection, even dropped ones) and ctnetlink NEW events (NATed connections with both tuples).
 *
 * Stopping Gatehouse leaves the table in place (removing it would open forwarding); only
 * `gatehouse fw down` removes it.
 */
export class FirewallService implements Service {
  readonly name = FIREWALL_SERVICE_NAME;
  private config: GatehouseConfig;
  private plan: RulesetPlan;
  private client: NftClient | undefined;
  private nflog: NflogReader | undefined;
  private conntrack: ConntrackLogger | undefined;
  private readonly connlog: ConnectionLogFile;
  private presence: PresenceSource;
  private unsubscribeStore: (() => void) | undefined;
  private unsubscribePresence: (() => void) | undefined;
  private readonly log: Logger;
  private readonly ifnames = new InterfaceNames();
  private readonly now: () => Date;
  private up = false;
  private started = false;
  private applied: string[] = [];
  private last: RecomputeOutcome | undefined;
  private recomputes = 0;
  private chain: Promise<unknown> = Promise.resolve();
  private queued: Promise<RecomputeOutcome> | undefined;
  private ipToHost: Map<string, string> | undefined;
  private hostToLogin: Map<string, string> | undefined;
  private readonly gauge;
  private readonly setUpdates;

  constructor(private readonly deps: FirewallDeps) {
    this.config = deps.config;
    this.plan = planFromConfig(deps.config.firewall, deps.config.network);
    this.log = deps.logger.child({ part: 'firewall' });
    this.presence = deps.presence ?? noPresence;
    this.now = deps.now ?? (() => new Date());
    this.connlog = new ConnectionLogFile({
      path: this.connlogPath(deps.config),
      maxBytes: deps.config.firewall.connectionLog.maxBytes,
      keep: deps.config.firewall.connectionLog.keep,
      logger: this.log,
    });
    this.gauge = deps.metrics.gauge('gatehouse_fw_allowed_addresses', 'addresses in allowed_internet_access');
    this.setUpdates = deps.metrics.counter(
      'gatehouse_fw_set_updates_total',
      'allowed-set recomputations by result',
      ['result'],
    );
  }

  private connlogPath(config: GatehouseConfig): string {
    return config.firewall.connectionLog.path ?? path.join(config.dataDir, 'connections.log');
  }

  get currentConfig(): GatehouseConfig {
    return this.config;
  }

  get connectionLogFile(): string {
    return this.connlog.file;
  }

  async start(): Promise<void> {
    this.client = new NftClient({ logger: this.log, rawFactory: this.deps.rawFactory });
    const seqAtBringUp = this.deps.store.lastSeq;
    const sessionsAtBringUp = JSON.stringify([...this.presence.sessions()]);
    try {
      await this.bringUp('start');
      // Each opens a helper process; start them side by side.
      const [nflog] = await Promise.all([
        this.openNflog(),
        this.config.firewall.conntrack.enabled ? this.startConntrack() : undefined,
      ]);
      this.nflog = nflog;
    } catch (e) {
      await this.closeSockets();
      throw e;
    }
    this.unsubscribeStore = this.deps.store.subscribe((events) => this.onStoreEvents(events));
    this.watchPresence();
    // The log readers take seconds to open: what changed meanwhile (an HA standby's first
    // snapshot arrives then) was not seen by the subscriptions above.
    if (
      this.deps.store.lastSeq !== seqAtBringUp ||
      JSON.stringify([...this.presence.sessions()]) !== sessionsAtBringUp
    )
      void this.recompute('changed during start');
    this.deps.ha?.onRole(async (role) => {
      if (role === 'primary' && this.started) await this.recompute('ha promoted', { force: true });
    });
    this.started = true;
  }

  /** Replaces the presence source (the lead wires presencesync after construction). */
  setPresence(source: PresenceSource): void {
    this.presence = source;
    this.hostToLogin = undefined;
    if (this.started) {
      this.watchPresence();
      void this.recompute('presence source attached');
    }
  }

  private watchPresence(): void {
    this.unsubscribePresence?.();
    this.unsubscribePresence = this.presence.onChange(() => {
      this.hostToLogin = undefined;
      void this.recompute('presence');
    });
  }

  private onStoreEvents(events: readonly ChangeEvent[]): void {
    let relevant = false;
    for (const e of events) {
      if (e.table === MDB_TABLES.machines) this.ipToHost = undefined;
      if (e.table === MDB_TABLES.machines || e.table === UDB_TABLES.users || e.table === FIREWALL_STATE_TABLE)
        relevant = true;
    }
    if (relevant) void this.recompute('store');
  }

  contestEnabled(): boolean {
    return readContest(this.deps.store)?.enabled ?? false;
  }

  allowedGroups(): UserGroup[] {
    return this.contestEnabled() ? this.config.firewall.contestGroups : this.config.firewall.allowedGroups;
  }

  /** The set as the inputs say it should be now (pure computation over a store snapshot). */
  computeNow(): AllowedResult {
    const { store } = this.deps;
    const machines = store.read((tx) => tx.values(machinesTable(store)));
    const users = store.read((tx) => tx.values(usersTable(store)));
    return computeAllowed({
      machines,
      users,
      sessions: this.presence.sessions(),
      allowedGroups: this.allowedGroups(),
      lan: this.config.network.lan,
    });
  }

  /** Runs `fn` after every earlier netlink transaction of this service (they never interleave). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => {});
    return run;
  }

  private async bringUp(reason: string): Promise<void> {
    const client = this.client!;
    const result = this.computeNow();
    let ips: string[];
    if (result.kind === 'set') ips = result.ips;
    else {
      // Scenario 76: with MDB or UDB empty the set must not change, even across a restart.
      ips = ((await client.listSetKeys(FAMILIES.inet, this.plan.table, ALLOWED_SET)) ?? [])
        .filter((k) => k.length === 4)
        .map((k) => [...k].join('.'));
    }
    await client.commit(rulesetMessages(this.plan, ips));
    this.up = true;
    this.applied = ips;
    this.gauge.set(ips.length);
    this.log.info('fw.ruleset_applied', {
      reason,
      table: `inet ${this.plan.table}`,
      allowed: ips.length,
      setSource: result.kind === 'set' ? 'computed' : `kept (${result.reason})`,
      lan: this.plan.lan,
      servers: this.plan.servers,
      lanInterfaces: this.plan.lanInterfaces,
      uplinkInterfaces: this.plan.uplinkInterfaces,
      contest: this.contestEnabled(),
    });
  }

  /**
   * Recomputes the allowed set and applies it as one transaction. Calls arriving while one
   * runs are coalesced into a single follow-up that sees all their changes.
   */
  recompute(reason: string, opts: { force?: boolean } = {}): Promise<RecomputeOutcome> {
    if (this.queued && !opts.force) return this.queued;
    const p = this.serial(async () => {
      if (this.queued === p) this.queued = undefined;
      return this.applyNow(reason);
    });
    if (!opts.force) this.queued = p;
    return p;
  }

  private async applyNow(reason: string): Promise<RecomputeOutcome> {
    const at = this.now().toISOString();
    this.recomputes++;
    if (!this.up || !this.client) {
      this.last = { at, reason, result: 'down', applied: false, count: 0 };
      return this.last;
    }
    let result: AllowedResult;
    try {
      result = this.computeNow();
    } catch (e) {
      this.last = {
        at,
        reason,
        result: 'failed',
        applied: false,
        count: this.applied.length,
        error: errorMessage(e),
      };
      this.log.error('fw.recompute_failed', { reason, error: errorMessage(e) });
      this.setUpdates.inc({ result: 'failed' });
      return this.last;
    }
    if (result.kind === 'skip') {
      this.last = { at, reason, result: 'skip', applied: false, count: this.applied.length };
      this.setUpdates.inc({ result: 'skip' });
      this.log.info('fw.set_unchanged', { reason, why: result.reason });
      return this.last;
    }
    try {
      await this.client.commit(allowedSetMessages(this.plan, result.ips));
    } catch (e) {
      this.last = {
        at,
        reason,
        result: 'failed',
        applied: false,
        count: this.applied.length,
        error: errorMessage(e),
      };
      this.setUpdates.inc({ result: 'failed' });
      this.log.error('fw.set_update_failed', {
        reason,
        error: errorMessage(e),
        code: (e as { code?: string }).code,
      });
      return this.last;
    }
    const before = new Set(this.applied);
    const after = new Set(result.ips);
    this.applied = result.ips;
    this.gauge.set(result.ips.length);
    this.setUpdates.inc({ result: 'applied' });
    this.last = { at, reason, result: 'set', applied: true, count: result.ips.length };
    this.log.info('fw.set_updated', {
      reason,
      allowed: result.ips.length,
      added: result.ips.filter((ip) => !before.has(ip)),
      removed: [...before].filter((ip) => !after.has(ip)),
      contest: this.contestEnabled(),
      ...(result.unknownLogins.length ? { skippedUnknownLogins: result.unknownLogins } : {}),
      ...(result.unknownHosts.length ? { unknownHosts: result.unknownHosts } : {}),
      ...(result.outsideLan.length ? { outsideLan: result.outsideLan } : {}),
    });
    return this.last;
  }

  /** Switches contest mode, persists it, and resolves once the set reflects it. */
  async setContest(enabled: boolean, by: string): Promise<RecomputeOutcome> {
    await writeContest(this.deps.store, enabled, by, this.now());
    this.log.info('fw.contest_mode', { enabled, by, allowedGroups: this.allowedGroups() });
    return this.recompute(`contest ${enabled ? 'on' : 'off'}`, { force: true });
  }

  /** `gatehouse fw up` against a running server: re-creates the whole ruleset. */
  bringUpAgain(reason: string): Promise<void> {
    return this.serial(() => this.bringUp(reason));
  }

  /** `gatehouse fw down`: removes the table; set updates pause until `fw up`. */
  takeDown(reason: string): Promise<void> {
    return this.serial(async () => {
      await this.client!.commit(removeRulesetMessages(this.plan.table));
      this.up = false;
      this.applied = [];
      this.gauge.set(0);
      this.log.warn('fw.ruleset_removed', { reason, table: `inet ${this.plan.table}` });
    });
  }

  /** Reads the table back from the kernel and compares it with the plan. */
  check(): Promise<RulesetCheck> {
    return this.serial(() => checkRuleset(this.client!, this.plan));
  }

  status(): FirewallStatus {
    return {
      up: this.up,
      table: `inet ${this.plan.table}`,
      contest: this.contestEnabled(),
      allowedGroups: this.allowedGroups(),
      allowed: [...this.applied],
      lastRecompute: this.last,
      recomputes: this.recomputes,
      nflog: this.nflog ? { ...this.nflog.stats } : undefined,
      conntrack: this.conntrack ? { ...this.conntrack.stats } : undefined,
      connectionLog: { file: this.connlog.file, ...this.connlog.stats },
    };
  }

  /** Who held `ip` now: the MDB machine with that address and the login presence puts on it. */
  attribute(ip: string): Attribution {
    if (!this.ipToHost) {
      const { store } = this.deps;
      const machines: Machine[] = store.read((tx) => tx.values(machinesTable(store)));
      this.ipToHost = new Map();
      for (const m of machines) if (!this.ipToHost.has(m.ip)) this.ipToHost.set(m.ip, m.hostname);
    }
    const hostname = this.ipToHost.get(ip);
    if (hostname === undefined) return {};
    if (!this.hostToLogin) {
      this.hostToLogin = new Map();
      for (const [login, host] of this.presence.sessions()) this.hostToLogin.set(host, login);
    }
    const login = this.hostToLogin.get(hostname);
    return login === undefined ? { hostname } : { hostname, login };
  }

  private async openNflog(): Promise<NflogReader> {
    return NflogReader.open({
      group: this.plan.logGroup,
      logger: this.log,
      metrics: this.deps.metrics,
      rawFactory: this.deps.rawFactory,
      onPacket: (p) => this.onLoggedPacket(p),
      onOverrun: () =>
        this.log.warn('fw.nflog_overrun', {
          group: this.plan.logGroup,
          note: 'some new-connection log lines were lost',
        }),
    });
  }

  private onLoggedPacket(p: NflogPacket): void {
    const { text, info } = kernelLogText(
      p.prefix,
      this.ifnames.name(p.ifindex),
      this.ifnames.name(p.outdev),
      p.payload,
    );
    const who = info.src ? this.attribute(info.src) : {};
    this.connlog.append(
      `${this.now().toISOString()} ${text} host=${who.hostname ?? '-'} login=${who.login ?? '-'}`,
    );
    if (this.config.firewall.connectionLog.journal) {
      this.log.info('fw.new_connection', {
        ...info,
        in: this.ifnames.name(p.ifindex),
        out: this.ifnames.name(p.outdev),
        hostname: who.hostname ?? null,
        login: who.login ?? null,
      });
    }
  }

  private async startConntrack(): Promise<void> {
    const c = new ConntrackLogger({
      logger: this.log,
      metrics: this.deps.metrics,
      rawFactory: this.deps.rawFactory,
      recvBufferBytes: this.config.firewall.conntrack.recvBufferBytes,
      resyncIntervalMs: this.config.firewall.conntrack.resyncIntervalSeconds * 1000,
      attribute: (ip) => this.attribute(ip),
      emit: (e, who, o) => this.onConnection(e, who, o.recovered),
    });
    await c.start();
    this.conntrack = c;
  }

  private onConnection(e: CtEntry, who: Attribution, recovered: boolean): void {
    this.connlog.append(connectionLine(this.now(), e, who, { recovered }));
    if (this.config.firewall.connectionLog.journal) {
      this.log.info('conntrack.new', {
        ...connectionFields(e, who),
        ...(recovered ? { recovered: true } : {}),
      });
    }
  }

  /** Waits until every queued connection-log line is on disk (tests, shutdown). */
  flushConnectionLog(): Promise<void> {
    return this.connlog.flush();
  }

  /** Forces a conntrack resync dump now (tests, operators). */
  resyncConntrack(): Promise<void> {
    return this.conntrack?.resync('manual') ?? Promise.resolve();
  }

  async reload(config: GatehouseConfig): Promise<void> {
    const before = JSON.stringify(this.plan);
    const oldGroup = this.plan.logGroup;
    this.config = config;
    this.plan = planFromConfig(config.firewall, config.network);
    if (JSON.stringify(this.plan) !== before && this.up) {
      await this.bringUpAgain('config reload');
      if (this.plan.logGroup !== oldGroup) {
        await this.nflog?.close();
        this.nflog = await this.openNflog();
      }
    }
    await this.recompute('config reload', { force: true });
  }

  private async closeSockets(): Promise<void> {
    await this.nflog?.close().catch(() => {});
    this.nflog = undefined;
    await this.conntrack?.stop().catch(() => {});
    this.conntrack = undefined;
    this.client?.close();
    this.client = undefined;
  }

  async stop(): Promise<void> {
    this.started = false;
    this.unsubscribeStore?.();
    this.unsubscribePresence?.();
    await this.chain;
    await this.closeSockets();
    await this.connlog.close();
  }
}

/** `serviceFactories` entry: the firewall when `firewall.enabled`. */
export function firewallServiceFactory(ctx: ServiceContext): FirewallService | undefined {
  if (!ctx.config.firewall.enabled) return undefined;
  const service = new FirewallService({
    config: ctx.config,
    store: ctx.store,
    logger: ctx.logger,
    metrics: ctx.metrics,
    presence: presenceAmong(ctx.services),
    ha: haOf(ctx),
  });
  ctx.routes.add(
    '/api/v1/firewall/',
    firewallRoute(service, () => service.currentConfig),
  );
  return service;
}
