import type { BootProgress } from '../../boot/progress.js';
import { bootProgressOf } from '../../boot/service.js';
import type { GatehouseConfig } from '../../config/index.js';
import { errorMessage } from '../../errors.js';
import { isStandbyRefusal } from '../../ha/errors.js';
import { PeriodSummary } from '../../log-summary.js';
import type { Switch } from '../../mdb/model.js';
import type { Counter } from '../../metrics.js';
import type { Service, ServiceContext } from '../../service.js';
import { sendText } from '../respond.js';
import type { Handler } from '../server.js';
import { bootFilesHandler } from './boot-files.js';
import { renderBootstrap } from './bootstrap.js';
import { type BootOutcome, bootAnswer, bootPathMac, parseRegisterQuery, registerFailure } from './policy.js';
import { mdbRegistrar, type Registrar } from './register.js';
import { registrationDoneScript } from './scripts.js';
import { NetbootView } from './view.js';

const IPXE_CONTENT_TYPE = 'text/plain; charset=utf-8';

type Endpoint = 'boot' | 'bootstrap' | 'register' | 'other';

/** What the netboot host uses of the service context (the store only through its collaborators). */
export type NetbootContext = Pick<ServiceContext, 'config' | 'logger' | 'metrics' | 'http'>;

/**
 * The `netboot` virtual host (spec §6.1): `/bootstrap`, `/boot/<mac>/`, `/register`, every
 * answer an iPXE script with status 200 (error scripts included, as the original), plus the
 * optional boot-file hosts (`rfs0`, …) serving kernel and initrd. One log line per request.
 */
export class NetbootService implements Service {
  readonly name = 'netboot';
  private config: GatehouseConfig;
  private readonly requests: Counter<'endpoint' | 'outcome'>;
  private readonly files: Counter<'result'>;
  /** `netboot.summary`: scripts served each second, by endpoint (the per-request lines stay). */
  private readonly summary: PeriodSummary<Record<Endpoint, number>>;
  private bootstrapCache: { switches: readonly Switch[]; baseUrl: string; text: string } | undefined;

  /**
   * Collaborators are handed in (`netbootService` gives the real ones): the start-up warm-up
   * (warmup.ts) builds this same class with throwaway ones.
   */
  constructor(
    private readonly ctx: NetbootContext,
    private readonly register: Registrar,
    private readonly view: NetbootView,
    private readonly boot: BootProgress | undefined,
  ) {
    this.config = ctx.config;
    this.summary = new PeriodSummary(ctx.logger.child({ part: 'netboot' }), 'netboot.summary', () => ({
      bootstrap: 0,
      boot: 0,
      register: 0,
      other: 0,
    }));
    this.requests = ctx.metrics.counter(
      'gatehouse_netboot_requests_total',
      'netboot requests by endpoint and outcome (boot, unknown, faulty, no_rfs, registered, register_failed, …)',
      ['endpoint', 'outcome'],
    );
    this.files = ctx.metrics.counter(
      'gatehouse_netboot_files_total',
      'boot-file requests on the RFS hosts by HTTP status',
      ['result'],
    );
  }

  async start(): Promise<void> {
    this.view.prepare();
    this.summary.start();
    this.ctx.http.vhost('netboot', this.handle);
    const bootFiles = this.config.netboot.bootFiles;
    if (bootFiles.root) {
      const handler = bootFilesHandler({ root: bootFiles.root, prefix: bootFiles.path, files: this.files });
      for (const host of bootFiles.hosts) this.ctx.http.vhost(host, handler);
    }
  }

  async stop(): Promise<void> {
    this.summary.stop();
    this.view.close();
  }

  reload(config: GatehouseConfig): void {
    // options, fallback and baseUrl apply to the next request; boot-file hosts need a restart
    // (the HTTP server has no way to drop a virtual host).
    this.config = config;
  }

  /**
   * The /bootstrap script, rendered again only when the switch list (a new array after any change,
   * view.ts) or the base URL (reload) changed: every machine of a storm asks for the same text.
   */
  private bootstrapScript(switches: readonly Switch[], baseUrl: string): string {
    const c = this.bootstrapCache;
    if (c && c.switches === switches && c.baseUrl === baseUrl) return c.text;
    const text = renderBootstrap(switches, baseUrl);
    this.bootstrapCache = { switches, baseUrl, text };
    return text;
  }

  readonly handle: Handler = async (req, res, ctx) => {
    const started = Date.now();
    const path = ctx.url.pathname;
    const answer = (
      endpoint: Endpoint,
      outcome: string,
      script: string,
      fields: Record<string, unknown> = {},
    ) => {
      sendText(res, 200, script, IPXE_CONTENT_TYPE);
      this.requests.inc({ endpoint, outcome });
      this.summary.c[endpoint]++;
      this.summary.touch();
      ctx.logger.info('netboot.request', {
        endpoint,
        outcome,
        path,
        client: ctx.remoteAddress,
        ...fields,
        ms: Date.now() - started,
      });
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      sendText(res, 405, 'Method Not Allowed\n');
      this.requests.inc({ endpoint: 'other', outcome: 'bad_method' });
      ctx.logger.info('netboot.request', {
        endpoint: 'other',
        outcome: 'bad_method',
        method: req.method,
        path,
        client: ctx.remoteAddress,
      });
      return;
    }
    const netboot = this.config.netboot;
    if (path === '/bootstrap') {
      const switches = this.view.switches();
      answer('bootstrap', 'served', this.bootstrapScript(switches, netboot.baseUrl), {
        switches: switches.length,
      });
      return;
    }
    if (path === '/register') {
      const parsed = parseRegisterQuery(ctx.url.searchParams);
      if (!parsed.ok) {
        answer('register', 'register_failed', registerFailure(parsed.message), { error: parsed.message });
        return;
      }
      const { args } = parsed;
      let ip: string;
      try {
        ip = await this.register(args);
      } catch (e) {
        const message = errorMessage(e);
        if (isStandbyRefusal((e as { cause?: unknown }).cause)) {
          // A standby gateway: the client retries on the floating address (src/ha).
          const status = 503;
          sendText(res, status, `${message}\n`);
          this.requests.inc({ endpoint: 'register', outcome: 'refused' });
          ctx.logger.info('netboot.request', {
            endpoint: 'register',
            outcome: 'refused',
            status,
            client: ctx.remoteAddress,
          });
          return;
        }
        answer('register', 'register_failed', registerFailure(message), { ...args, error: message });
        return;
      }
      answer('register', 'registered', registrationDoneScript(), { ...args, ip });
      return;
    }
    const mac = bootPathMac(path);
    if (mac !== undefined) {
      const boot = bootAnswer(mac, this.view.current(), netboot);
      const outcome: BootOutcome = boot.outcome;
      this.boot?.record(mac, 'bootScript', Date.now());
      answer('boot', outcome, boot.script, { mac: boot.mac, hostname: boot.hostname });
      return;
    }
    sendText(res, 404, 'Not Found\n');
    this.requests.inc({ endpoint: 'other', outcome: 'not_found' });
    ctx.logger.info('netboot.request', {
      endpoint: 'other',
      outcome: 'not_found',
      path,
      client: ctx.remoteAddress,
    });
  };
}

export function netbootService(ctx: ServiceContext): Service | undefined {
  if (!ctx.config.netboot.enabled) return undefined;
  // A context of the same shape as the warm-up's (warmup.ts): one hidden class for both.
  const { config, logger, metrics, http } = ctx;
  return new NetbootService(
    { config, logger, metrics, http },
    mdbRegistrar(ctx.store),
    NetbootView.of(ctx.store),
    bootProgressOf(ctx.services),
  );
}
