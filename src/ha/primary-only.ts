import type { GatehouseConfig } from '../config/index.js';
import { errorMessage } from '../errors.js';
import type { Service, ServiceContext } from '../service.js';
import { haOf } from './service.js';

type Factory = (ctx: ServiceContext) => Service | undefined | Promise<Service | undefined>;

/**
 * Runs a service only while this gateway is the HA primary (DHCP: a standby stays silent).
 * The service is built afresh at each promotion, so it starts from the replicated store
 * (DHCP reads every lease then). Without HA the factory runs as is.
 */
export function primaryOnly(factory: Factory): Factory {
  return (ctx) => {
    const ha = haOf(ctx);
    if (!ha) return factory(ctx);
    return new PrimaryOnly(ctx, factory, ha);
  };
}

class PrimaryOnly implements Service {
  name = 'primary-only';
  private inner: Service | undefined;
  private config: GatehouseConfig;
  private stopped = false;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly factory: Factory,
    private readonly ha: NonNullable<ReturnType<typeof haOf>>,
  ) {
    this.config = ctx.config;
  }

  async start(): Promise<void> {
    // The name is the inner service's, for /readyz and lookups; probe once without starting.
    const probe = await this.factory({ ...this.ctx, config: this.config });
    if (probe) this.name = `${probe.name}(primary only)`;
    this.ha.onRole((role) => (role === 'primary' ? this.up() : this.down()));
    if (this.ha.currentRole === 'primary') await this.up(probe);
  }

  private async up(built?: Service): Promise<void> {
    if (this.inner || this.stopped) return;
    const s = built ?? (await this.factory({ ...this.ctx, config: this.config }));
    if (!s) return;
    await s.start();
    this.inner = s;
    this.ctx.logger.info('ha.service_started', { service: s.name });
  }

  private async down(): Promise<void> {
    const s = this.inner;
    this.inner = undefined;
    if (!s) return;
    try {
      await s.stop();
      this.ctx.logger.info('ha.service_stopped', { service: s.name });
    } catch (e) {
      this.ctx.logger.error('service.stop_failed', { service: s.name, error: errorMessage(e) });
    }
  }

  async reload(config: GatehouseConfig): Promise<void> {
    this.config = config;
    await this.inner?.reload?.(config);
  }

  notReady(): string | undefined {
    return this.inner?.notReady?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.down();
  }
}
