import type { ServerResponse } from 'node:http';
import { BlockList } from 'node:net';
import type { GatehouseConfig } from '../config/index.js';
import type { Handler } from '../http/server.js';
import type { Logger } from '../log.js';
import { MDB_TABLES, machinesTable } from '../mdb/model.js';
import type { Metrics } from '../metrics.js';
import type { Service, ServiceContext } from '../service.js';
import type { Store } from '../store/index.js';
import { parseClientIp } from './client-ip.js';
import { findPresence, type PresenceSource } from './service.js';
import {
  buildHostToLogin,
  buildIpToHost,
  buildOverrides,
  classify,
  type SsoIdentity,
  ssoLookup,
} from './sso-map.js';

export const SSO_SERVICE_NAME = 'sso';

export interface SsoServiceOptions {
  config: GatehouseConfig;
  store: Store;
  logger: Logger;
  metrics: Metrics;
  /** Where logins come from; without it only the overrides authenticate. */
  presence?: PresenceSource;
}

function trustList(cidrs: readonly string[] | null): BlockList | null {
  if (cidrs === null) return null;
  const list = new BlockList();
  for (const c of cidrs) {
    const [addr, bits] = c.split('/') as [string, string | undefined];
    if (bits === undefined) list.addAddress(addr, 'ipv4');
    else list.addSubnet(addr, Number(bits), 'ipv4');
  }
  return list;
}

/**
 * presencesync_sso (spec §10): answers nginx `auth_request` sub-requests on the `sso` virtual
 * host, always 204 (never deny: the protected site is served either way), with `X-SSO-Status`
 * and, when someone is logged on the client's machine, `X-SSO-User`. The ip → hostname table
 * is rebuilt after any committed MDB change and hostname → login after any presence change,
 * both lazily on the next lookup, so a change is visible to the very next request.
 */
export class SsoService implements Service {
  readonly name = SSO_SERVICE_NAME;
  private ipToHost: Map<string, string> | undefined;
  private hostToLogin: Map<string, string> | undefined;
  private overrides: Map<string, string>;
  private trusted: BlockList | null;
  private readonly unsubscribers: Array<() => void> = [];
  private readonly lookups;
  private readonly untrusted;
  private readonly logger: Logger;

  constructor(private readonly opts: SsoServiceOptions) {
    this.logger = opts.logger.child({ part: 'sso' });
    this.overrides = buildOverrides(opts.config.sso.overrides);
    this.trusted = trustList(opts.config.sso.trustedProxies);
    this.lookups = opts.metrics.counter('gatehouse_sso_lookups_total', 'SSO identity lookups by outcome', [
      'outcome',
    ]);
    this.untrusted = opts.metrics.counter(
      'gatehouse_sso_untrusted_peer_total',
      'SSO requests from peers outside sso.trustedProxies (answered for their own address)',
    );
  }

  async start(): Promise<void> {
    this.unsubscribers.push(
      this.opts.store.subscribe((events) => {
        if (events.some((e) => e.table === MDB_TABLES.machines)) this.ipToHost = undefined;
      }),
    );
    if (this.opts.presence) {
      this.unsubscribers.push(
        this.opts.presence.onChange(() => {
          this.hostToLogin = undefined;
        }),
      );
    }
  }

  async stop(): Promise<void> {
    for (const u of this.unsubscribers.splice(0)) u();
  }

  reload(config: GatehouseConfig): void {
    this.overrides = buildOverrides(config.sso.overrides);
    this.trusted = trustList(config.sso.trustedProxies);
  }

  /** The identity of whoever is logged on the machine with address `ip` (undefined: unknown). */
  identify(ip: string | undefined): SsoIdentity {
    if (!this.ipToHost) {
      const table = machinesTable(this.opts.store);
      this.ipToHost = this.opts.store.read((tx) => buildIpToHost(tx.values(table)));
    }
    this.hostToLogin ??= buildHostToLogin(this.opts.presence?.sessions() ?? new Map());
    const identity = ssoLookup(ip, {
      ipToHost: this.ipToHost,
      hostToLogin: this.hostToLogin,
      overrides: this.overrides,
    });
    this.lookups.inc({ outcome: classify(identity) });
    return identity;
  }

  /** Whether `peer` may tell us the client address through `X-Real-IP`. */
  trusts(peer: string): boolean {
    if (this.trusted === null) return true;
    const addr = parseClientIp(peer);
    return addr.ok && addr.family === 4 && this.trusted.check(addr.ip, 'ipv4');
  }

  /** The `sso` virtual host: every method and path is an `auth_request` answer. */
  readonly handler: Handler = (req, res, ctx) => {
    const header = req.headers['x-real-ip'];
    let ip = Array.isArray(header) ? header.join(', ') : header;
    if (!this.trusts(ctx.remoteAddress)) {
      this.untrusted.inc();
      ip = ctx.remoteAddress;
    }
    const identity = this.identify(ip);
    ctx.logger.debug('sso.lookup', {
      ip,
      status: identity.status,
      user: identity.user,
      uri: req.headers['x-real-uri'],
      host: req.headers['x-real-host'],
      peer: ctx.remoteAddress,
    });
    const headers: Record<string, string> = { 'X-SSO-Status': identity.status };
    if (identity.user !== undefined) headers['X-SSO-User'] = identity.user;
    res.writeHead(204, headers);
    res.end();
    // The request body (nginx sends none) is never read; drain whatever a client sent.
    req.resume();
  };
}

/** `serviceFactories` entry: the SSO service reading the presence service started before it. */
export function ssoServiceFactory(ctx: ServiceContext): SsoService | undefined {
  if (!ctx.config.sso.enabled) return undefined;
  const presence = findPresence(ctx.services);
  const service = new SsoService({
    config: ctx.config,
    store: ctx.store,
    logger: ctx.logger,
    metrics: ctx.metrics,
    ...(presence ? { presence } : {}),
  });
  ctx.http.vhost('sso', service.handler);
  return service;
}

/** The running SSO service among `services`, if any. */
export function findSso(services: readonly Service[]): SsoService | undefined {
  return services.find((s): s is SsoService => s instanceof SsoService);
}

/**
 * For Gatehouse's own web pages (the `mdb` and `udb` admin pages): the identity of the TCP
 * peer from Gatehouse's own lookup. Client-sent `X-SSO-*` headers are never consulted. When
 * the SSO service is disabled the status says so and nobody is authenticated.
 */
export function ssoIdentity(
  services: readonly Service[],
  remoteIp: string,
): SsoIdentity & { backend: string } {
  const sso = findSso(services);
  if (!sso) return { status: 'sso disabled', backend: 'unavailable (sso disabled)' };
  return { ...sso.identify(remoteIp), backend: 'working' };
}

/** Sets `X-SSO-User` (or removes it), `X-SSO-Status` and `X-SSO-Backend-Status` on a response. */
export function setSsoHeaders(res: ServerResponse, identity: SsoIdentity & { backend?: string }): void {
  res.setHeader('X-SSO-Status', identity.status);
  if (identity.user !== undefined) res.setHeader('X-SSO-User', identity.user);
  else res.removeHeader('X-SSO-User');
  res.setHeader('X-SSO-Backend-Status', identity.backend ?? 'working');
}
