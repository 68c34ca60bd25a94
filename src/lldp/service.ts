import type { GatehouseConfig } from '../config/index.js';
import type { Service, ServiceContext } from '../service.js';
import { LLDP_API_PREFIX, type LldpApiDeps, lldpApi } from './api.js';
import { LldpListener } from './listener.js';
import type { Neighbour } from './neighbours.js';
import { mdbSwitchCreator } from './switches.js';

/**
 * The LLDP listener as a service: listens on `lldp.interfaces` (needs CAP_NET_ADMIN and must
 * run in the network namespace that owns them) and serves the neighbour table on the admin API.
 */
export class LldpService implements Service {
  readonly name = 'lldp';
  readonly listener: LldpListener;
  private config: GatehouseConfig;

  constructor(
    ctx: ServiceContext,
    createSwitch: LldpApiDeps['createSwitch'],
  ) {
    this.config = ctx.config;
    this.listener = new LldpListener({ config: ctx.config.lldp, logger: ctx.logger, metrics: ctx.metrics });
    ctx.routes.add(
      LLDP_API_PREFIX,
      lldpApi({ config: () => this.config, neighbours: () => this.neighbours(), createSwitch }),
    );
  }

  async start(): Promise<void> {
    await this.listener.start();
  }

  async stop(): Promise<void> {
    await this.listener.stop();
  }

  reload(config: GatehouseConfig): void {
    // The admin token may change; interfaces and group need a restart (the table is recreated then).
    this.config = config;
  }

  neighbours(): Neighbour[] {
    return this.listener.neighbours();
  }
}

export function lldpService(ctx: ServiceContext): Service | undefined {
  if (!ctx.config.lldp.enabled) return undefined;
  return new LldpService(ctx, mdbSwitchCreator(ctx.store));
}
