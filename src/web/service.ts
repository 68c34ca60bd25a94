import type { GatehouseConfig } from '../config/index.js';
import type { Handler } from '../http/server.js';
import { withSsoHeaders } from '../http/sso-pages.js';
import type { Service, ServiceContext } from '../service.js';
import { udbAdminDirectory } from '../udb/admin-directory.js';
import { Assets } from './assets.js';
import { addDashboardPages } from './dashboard.js';
import { addMachinePages } from './mdb-machines.js';
import { addMdbTablePages } from './mdb-tables.js';
import { WebSessions } from './sessions.js';
import { type WebDeps, WebSite } from './site.js';
import { addUdbPages } from './udb-pages.js';

export const WEB_SERVICE_NAME = 'web';

/** Paths of the database hosts that stay with the RPC/metrics handler (spec §0.3). */
const isRpcPath = (path: string) => path.startsWith('/call/') || path === '/metrics';

/**
 * The admin web pages (issue 14): MDB at `/` of `mdb`, UDB at `/` of `udb`, the LAN dashboard
 * at `/` of the default host. Started after MDB, UDB, presence, SSO and the firewall, it wraps
 * the `mdb`/`udb` handlers so `/call/*` and `/metrics` answer as before beside the pages.
 */
export class WebService implements Service {
  readonly name = WEB_SERVICE_NAME;
  private config: GatehouseConfig;
  private stopDashboard: (() => void) | undefined;

  constructor(private readonly ctx: ServiceContext) {
    this.config = ctx.config;
  }

  async start(): Promise<void> {
    const { ctx } = this;
    const deps: WebDeps = {
      assets: new Assets(),
      sessions: new WebSessions(ctx.store),
      directory: udbAdminDirectory(ctx.store, ctx.services),
      maxBodyBytes: () => this.config.http.maxBodyBytes,
    };
    const mdb = new WebSite(deps, 'mdb', 'MDB', 'root', [
      ['/', 'Machines'],
      ['/switches', 'Switches'],
      ['/pools', 'IP pools'],
      ['/settings', 'Settings'],
    ]);
    addMachinePages(mdb, ctx.store);
    addMdbTablePages(mdb, ctx.store);
    this.mount('mdb', mdb);

    const udb = new WebSite(deps, 'udb', 'UDB', 'orga', [
      ['/', 'Users'],
      ['/uid-pools', 'UID pools'],
      ['/import', 'Batch import'],
      ['/sheets', 'Password sheets'],
    ]);
    addUdbPages(udb, ctx, () => this.config);
    if (ctx.http.handlerOf('udb')) this.mount('udb', udb);

    const dashboard = new WebSite(deps, 'dashboard', 'Dashboard', 'orga');
    this.stopDashboard = addDashboardPages(dashboard, ctx, () => this.config);
    ctx.routes.add('/', dashboard.handle);
  }

  /** Puts the pages of `site` beside the RPC handler of a database host. */
  private mount(vhost: string, site: WebSite): void {
    const { http, services } = this.ctx;
    const rpc = http.handlerOf(vhost);
    const pages = withSsoHeaders(services, site.handle);
    const handler: Handler = (req, res, ctx) =>
      rpc && isRpcPath(ctx.url.pathname) ? rpc(req, res, ctx) : pages(req, res, ctx);
    http.vhost(vhost, handler);
  }

  reload(config: GatehouseConfig): void {
    this.config = config;
  }

  async stop(): Promise<void> {
    this.stopDashboard?.();
  }
}

export function webServiceFactory(ctx: ServiceContext): Service {
  return new WebService(ctx);
}
