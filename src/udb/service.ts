import type { GatehouseConfig } from '../config/index.js';
import { AdminApi } from '../http/admin-api/router.js';
import { databaseHostPages } from '../http/sso-pages.js';
import type { Logger } from '../log.js';
import { createRpcHandler } from '../rpc/server.js';
import type { Service, ServiceContext } from '../service.js';
import { SyncHub } from '../sync/hub.js';
import { createSyncVhost } from '../sync/vhost.js';
import { udbAdminDirectory } from './admin-directory.js';
import { addUdbRoutes } from './admin-routes.js';
import { seedDemoUsers } from './demo.js';
import { connectUserFeed, userResume } from './feed.js';
import { udbRpcMethods } from './rpc.js';
import { listUsers, type UdbTables, udbTables } from './users.js';
import { ReservedLogins } from './validate.js';
// Registers the batchimport/pwdsheetdata/jsonimport/usermod operations with the ops API.
import './operations.js';

export const UDB_SERVICE_NAME = 'udb';

/**
 * UDB (spec §7, §8): the `udb` virtual host (`/call/query`, `/call/query_private`), the
 * `udbsync` feed driven by the store's change feed, and the demo users on a first start.
 */
export class UdbService implements Service {
  readonly name = UDB_SERVICE_NAME;
  readonly hub: SyncHub;
  readonly tables: UdbTables;
  private config: GatehouseConfig;
  private readonly logger: Logger;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly ctx: ServiceContext) {
    this.config = ctx.config;
    this.logger = ctx.logger.child({ part: 'udb' });
    this.tables = udbTables(ctx.store);
    this.hub = new SyncHub({
      pk: 'login',
      name: 'udbsync',
      logger: this.logger,
      metrics: ctx.metrics,
      maxStreams: ctx.config.http.maxStreamsPerFeed,
      resume: userResume(ctx.store, this.tables),
    });
  }

  async start(): Promise<void> {
    const { ctx } = this;
    const cfg = () => this.config;
    if (cfg().demo.seed && !ctx.store.writeRefusal()) {
      const added = await seedDemoUsers(ctx.store, this.tables, new ReservedLogins(cfg().udb));
      if (added > 0) this.logger.info('udb.demo_seeded', { users: added });
    }
    this.unsubscribe = connectUserFeed(ctx.store, this.tables, this.hub);
    ctx.http.vhost(
      'udb',
      createRpcHandler({
        name: 'udb',
        methods: udbRpcMethods(() => ctx.store.read((tx) => listUsers(tx, this.tables))),
        secret: () => cfg().secrets.udbClientAuth,
        timeauthEnabled: () => cfg().timeauth.enabled,
        logger: this.logger,
        metrics: ctx.metrics,
        maxBodyBytes: cfg().http.maxBodyBytes,
        fallback: databaseHostPages(
          ctx.services,
          ctx.metrics,
          'Gatehouse UDB: RPC at /call/<method> (query, query_private); admin API at /api/v1/users on the appliance',
        ),
      }),
    );
    ctx.http.vhost(
      'udbsync',
      createSyncVhost({
        hub: this.hub,
        pubSecret: () => cfg().secrets.udbsyncPub,
        subSecret: () => cfg().secrets.udbsyncSub,
        timeauthEnabled: () => cfg().timeauth.enabled,
        // External publishers keep the original semantics: their updates reach the backlog and
        // every subscriber, never the store (spec §3, same rule for udbsync).
        allowUpdate: true,
        maxBodyBytes: cfg().http.maxBodyBytes,
        logger: this.logger,
        metrics: ctx.metrics,
      }),
    );
    addUdbRoutes(
      new AdminApi({
        config: cfg,
        logger: this.logger,
        metrics: ctx.metrics,
        directory: udbAdminDirectory(ctx.store, ctx.services),
      }),
      ctx.store,
      this.tables,
      () => new ReservedLogins(cfg().udb),
    ).mount(ctx.routes);
    this.logger.info('udb.started', { users: this.hub.records().length });
  }

  reload(config: GatehouseConfig): void {
    this.config = config;
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.hub.close();
  }
}

export function udbServiceFactory(ctx: ServiceContext): Service | undefined {
  if (!ctx.config.udb.enabled) return undefined;
  return new UdbService(ctx);
}
