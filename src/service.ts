import type { GatehouseConfig } from './config/index.js';
import type { PrefixRouter } from './http/prefix-router.js';
import type { HttpServer } from './http/server.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { Store } from './store/index.js';

/** What the composition root hands every service. */
export interface ServiceContext {
  config: GatehouseConfig;
  store: Store;
  logger: Logger;
  metrics: Metrics;
  http: HttpServer;
  /** Routes of the default host (health, metrics, /api/v1…). */
  routes: PrefixRouter;
  /** Services started before this one, to look up by name (e.g. DNS reads MDB). */
  services: readonly Service[];
}

/**
 * A long-running part of the appliance (DNS server, DHCP server, feeds…). The composition root
 * starts services in order, stops them in reverse, and calls `reload` on SIGHUP with an already
 * validated config: a service applies what it can without closing its sockets.
 */
export interface Service {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  reload?(config: GatehouseConfig): Promise<void> | void;
  /**
   * Called once every service has started and the HTTP server listens: background work that
   * must not delay the start (the netboot HTTP warm-up). Not awaited.
   */
  afterStart?(): void;
  /**
   * Runs the service's start-up warm-up again, on this thread only (src/warm-keeper.ts: after a
   * full GC threw warmed code away while the appliance was idle). Resolves when it is over.
   */
  rewarm?(): Promise<void>;
  /** undefined when ready, otherwise why not (listed by /readyz). */
  notReady?(): string | undefined;
}
