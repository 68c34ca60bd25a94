import { errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Service, ServiceContext } from '../../service.js';
import { warmNetbootHttp } from './warmup.js';

export const HTTP_WARMUP_SERVICE = 'http-warmup';

/**
 * The netboot HTTP warm-up (warmup.ts) as a service: it runs once the real listeners are up
 * (`afterStart`), so it never delays the start, and a failure costs only the warm-up. One
 * `http.warmed_up` line says how long it took.
 */
export class HttpWarmupService implements Service {
  readonly name = HTTP_WARMUP_SERVICE;
  private stopping = false;
  private warming: Promise<void> = Promise.resolve();
  private readonly logger: Logger;

  constructor(private readonly ctx: ServiceContext) {
    this.logger = ctx.logger.child({ part: 'http' });
  }

  async start(): Promise<void> {}

  afterStart(): void {
    this.warming = this.warmUp();
  }

  /** Resolves when the warm-up is over (tests, benches). */
  warmedUp(): Promise<void> {
    return this.warming;
  }

  rewarm(): Promise<void> {
    if (!this.stopping) this.warming = this.warming.then(() => this.warmUp());
    return this.warming;
  }

  private async warmUp(): Promise<void> {
    const exchanges = this.ctx.config.http.warmupExchanges;
    try {
      const done = await warmNetbootHttp(this.ctx.config, exchanges, () => this.stopping);
      this.logger.info('http.warmed_up', {
        exchanges: done.exchanges,
        requests: 2 * done.exchanges,
        warmupMs: Math.round(done.ms),
      });
    } catch (e) {
      this.logger.warn('http.warmup_failed', {
        error: errorMessage(e),
        effect: 'the first netboot requests after start run slower code; nothing else is affected',
      });
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.warming;
  }
}

/** None when netboot is off or `http.warmupExchanges` is 0. */
export function httpWarmupService(ctx: ServiceContext): Service | undefined {
  if (!ctx.config.netboot.enabled || ctx.config.http.warmupExchanges === 0) return undefined;
  return new HttpWarmupService(ctx);
}
