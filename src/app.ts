import type { GatehouseConfig } from './config/index.js';
import { errorMessage } from './errors.js';
import { opsRoute } from './http/ops-route.js';
import { PrefixRouter } from './http/prefix-router.js';
import { sendText } from './http/respond.js';
import { HttpServer } from './http/server.js';
import { type Logger, createLogger } from './log.js';
import { Metrics } from './metrics.js';
import type { Service, ServiceContext } from './service.js';
import { serviceFactories } from './services.js';
import { allMigrations } from './migrations.js';
import { Store } from './store/index.js';
import { VERSION } from './version.js';
import { WarmKeeper, type WarmKeeperOptions } from './warm-keeper.js';

export interface StartOptions {
  config: GatehouseConfig;
  logger?: Logger;
  /** Extra service factories (tests), started after the built-in ones. */
  extraServices?: Array<(ctx: ServiceContext) => Service | undefined | Promise<Service | undefined>>;
  /** The warm keeper's timings (src/warm-keeper.ts defaults; tests shorten them). */
  warmKeeper?: Pick<WarmKeeperOptions, 'quietMs' | 'minIntervalMs' | 'idleCpuShare'>;
}

/**
 * The running appliance: one store, one HTTP server, and the services the config enables.
 * Built by `gatehouse serve` and by the test harness (several instances per process).
 */
export class Gatehouse {
  readonly defaultRoutes = new PrefixRouter();
  private readonly services: Service[] = [];
  private stopping = false;
  private warmKeeper: WarmKeeper | undefined;

  private constructor(
    public config: GatehouseConfig,
    readonly store: Store,
    readonly http: HttpServer,
    readonly metrics: Metrics,
    readonly logger: Logger,
  ) {}

  static async start(opts: StartOptions): Promise<Gatehouse> {
    const { config } = opts;
    const logger = opts.logger ?? createLogger({ level: config.log.level });
    const metrics = new Metrics({ defaultMetrics: true });
    const store = await Store.open({ dir: config.dataDir, migrations: allMigrations, logger: logger.child({ part: 'store' }) });
    const http = new HttpServer(logger.child({ part: 'http' }), metrics, config.network.domain, config.http);
    const app = new Gatehouse(config, store, http, metrics, logger);
    app.installDefaultRoutes();
    http.setDefault(app.defaultRoutes.handle);
    const ctx: ServiceContext = { config, store, logger, metrics, http, routes: app.defaultRoutes, services: app.services };
    try {
      for (const factory of [...serviceFactories, ...(opts.extraServices ?? [])]) {
        const service = await factory(ctx);
        if (!service) continue;
        await service.start();
        app.services.push(service);
        logger.info('service.started', { service: service.name });
      }
      await http.listen(config.http.listen);
    } catch (e) {
      await app.stop();
      throw e;
    }
    for (const s of app.services) s.afterStart?.();
    if (app.services.some((s) => s.rewarm)) {
      const rewarms = metrics.counter(
        'gatehouse_warmup_rewarms_total',
        'Start-up warm-ups run again after a full GC while idle (src/warm-keeper.ts), by outcome',
        ['outcome'],
      );
      app.warmKeeper = new WarmKeeper({
        ...opts.warmKeeper,
        counted: (outcome) => rewarms.inc({ outcome }),
        logger: logger.child({ part: 'warmup' }),
        rewarm: async () => {
          for (const s of app.services) if (!app.stopping) await s.rewarm?.();
        },
      });
      app.warmKeeper.start();
    }
    logger.info('gatehouse.started', { version: VERSION, http: http.addresses(), dataDir: config.dataDir });
    return app;
  }

  service<S extends Service>(name: string): S | undefined {
    return this.services.find((s) => s.name === name) as S | undefined;
  }

  private installDefaultRoutes(): void {
    this.defaultRoutes.add('/healthz', (_req, res) => sendText(res, 200, 'ok\n'));
    this.defaultRoutes.add('/readyz', (_req, res) => {
      const waiting = this.notReady();
      if (waiting.length === 0) sendText(res, 200, 'ready\n');
      else sendText(res, 503, waiting.map((w) => `not ready: ${w}`).join('\n') + '\n');
    });
    this.defaultRoutes.add('/metrics', async (_req, res) => {
      const body = await this.metrics.text();
      sendText(res, 200, body, this.metrics.contentType);
    });
    this.defaultRoutes.add('/api/v1/ops/', opsRoute({ store: this.store, config: () => this.config, logger: this.logger }));
    this.defaultRoutes.add('/version', (_req, res) => sendText(res, 200, `${VERSION}\n`));
  }

  notReady(): string[] {
    const out: string[] = [];
    for (const s of this.services) {
      const why = s.notReady?.();
      if (why) out.push(`${s.name}: ${why}`);
    }
    return out;
  }

  /** Applies an already validated config to every service without closing sockets. */
  async reload(config: GatehouseConfig): Promise<void> {
    this.http.reload(config.http);
    for (const s of this.services) {
      try {
        await s.reload?.(config);
      } catch (e) {
        this.logger.error('service.reload_failed', { service: s.name, error: errorMessage(e) });
      }
    }
    this.config = config;
    this.logger.info('gatehouse.reloaded', {});
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.warmKeeper?.stop();
    await this.http.close();
    for (const s of [...this.services].reverse()) {
      try {
        await s.stop();
      } catch (e) {
        this.logger.error('service.stop_failed', { service: s.name, error: errorMessage(e) });
      }
    }
    await this.store.close();
    this.logger.info('gatehouse.stopped', {});
  }
}
