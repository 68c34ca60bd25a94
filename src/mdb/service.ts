import type { GatehouseConfig } from '../config/index.js';
import { addMdbRoutes } from '../http/admin-api/mdb-routes.js';
import { AdminApi } from '../http/admin-api/router.js';
import { udbAdminDirectory } from '../udb/admin-directory.js';
import { databaseHostPages } from '../http/sso-pages.js';
import { createRpcHandler } from '../rpc/server.js';
import type { Service, ServiceContext } from '../service.js';
import { SyncHub } from '../sync/hub.js';
import { createSyncVhost } from '../sync/vhost.js';
import { seedDemo } from './demo.js';
import { connectMachineFeed, machineResume } from './feed.js';
import './operations.js';
import { mdbRpcMethods } from './rpc.js';

/**
 * MDB (spec §2) and mdbsync (spec §3): the `mdb` virtual host (RPC `/call/*`, no secret), the
 * `mdbsync` virtual host fed by the store's change feed, and the MDB resources of the admin
 * API. Importing this module also registers the `gatehouse mdb` operations.
 */
export class MdbService implements Service {
  readonly name = 'mdb';
  private config: GatehouseConfig;
  private hub: SyncHub | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly ctx: ServiceContext) {
    this.config = ctx.config;
  }

  get feed(): SyncHub | undefined {
    return this.hub;
  }

  async start(): Promise<void> {
    const { store, logger, metrics, http } = this.ctx;
    const log = logger.child({ service: 'mdb' });
    // A standby gets its rows from the primary (src/ha).
    if (this.config.demo.seed && !store.writeRefusal()) {
      const seeded = await seedDemo(store);
      if (seeded > 0) log.info('mdb.demo_seeded', { machines: seeded });
    }
    const hub = new SyncHub({
      pk: 'mac',
      name: 'mdbsync',
      logger: log,
      metrics,
      maxStreams: this.config.http.maxStreamsPerFeed,
      resume: machineResume(store),
    });
    this.hub = hub;
    this.unsubscribe = connectMachineFeed(store, hub);
    http.vhost(
      'mdb',
      createRpcHandler({
        name: 'mdb',
        methods: mdbRpcMethods(store),
        timeauthEnabled: () => this.config.timeauth.enabled,
        logger: log,
        metrics,
        maxBodyBytes: this.config.http.maxBodyBytes,
        fallback: databaseHostPages(
          this.ctx.services,
          metrics,
          'Gatehouse MDB: RPC at /call/<method> (query, switches, register, ansible); admin API at /api/v1/machines on the appliance',
        ),
      }),
    );
    http.vhost(
      'mdbsync',
      createSyncVhost({
        hub,
        pubSecret: () => this.config.secrets.mdbsyncPub,
        subSecret: () => this.config.secrets.mdbsyncSub,
        timeauthEnabled: () => this.config.timeauth.enabled,
        allowUpdate: true,
        maxBodyBytes: this.config.http.maxBodyBytes,
        logger: log,
        metrics,
      }),
    );
    // Organizers authenticate here too, and get 403: MDB management is for roots (spec §2.5).
    const api = new AdminApi({
      config: () => this.config,
      logger: log,
      metrics,
      directory: udbAdminDirectory(store, this.ctx.services),
    });
    addMdbRoutes(api, store).mount(this.ctx.routes);
    log.info('mdb.ready', { machines: hub.records().length, seq: hub.seq });
  }

  reload(config: GatehouseConfig): void {
    this.config = config;
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.hub?.close();
  }
}

export const mdbServiceFactory = (ctx: ServiceContext): Service => new MdbService(ctx);
