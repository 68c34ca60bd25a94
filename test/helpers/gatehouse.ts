import { Gatehouse } from '../../src/app.js';
import { type GatehouseConfig, type GatehouseConfigInput, defaultConfig } from '../../src/config/index.js';
import { type LogFields, type Logger, createMemoryLogger } from '../../src/log.js';
import type { Service, ServiceContext } from '../../src/service.js';
import { tempDir } from './tmp.js';

export interface TestGatehouse {
  app: Gatehouse;
  config: GatehouseConfig;
  /** http://127.0.0.1:<port> of the HTTP server. */
  baseUrl: string;
  logs: LogFields[];
  logger: Logger;
}

/**
 * Starts an in-process Gatehouse on free loopback ports with a temporary data directory and
 * every network service on port 0 unless the test overrides it. Stopped at test end.
 */
export async function startGatehouse(
  t: { teardown(fn: () => void | Promise<void>): void },
  overrides: GatehouseConfigInput = {},
  extraServices: Array<(ctx: ServiceContext) => Service | undefined> = [],
): Promise<TestGatehouse> {
  const dataDir = overrides.dataDir ?? tempDir(t);
  const config = defaultConfig({
    demo: { seed: false },
    ...overrides,
    dataDir,
    // No start-up warm-ups of netboot HTTP, DNS answers or TFTP requests unless a test asks
    // (test/netboot/warmup.test.ts, test/warmup, test/dns/warmup.test.ts,
    // test/tftp/request-warmup.test.ts cover them): they would cost every started appliance a
    // second or more of the shared CI box's CPU.
    http: { listen: ['127.0.0.1:0'], warmupExchanges: 0, ...overrides.http },
    dns: { listen: ['127.0.0.1:0'], warmupQueries: 0, ...overrides.dns },
    dhcp: { listen: '127.0.0.1:0', ...overrides.dhcp },
    // No kept TFTP workers unless a test asks: two threads warming up per started appliance
    // would load the shared CI box for nothing (test/tftp/warmup.test.ts covers them).
    tftp: {
      listen: ['127.0.0.1:0'],
      root: tempDir(t, 'gatehouse-tftp-'),
      warmWorkers: 0,
      warmupRequests: 0,
      ...overrides.tftp,
    },
  });
  const logger = createMemoryLogger('debug');
  const app = await Gatehouse.start({ config, logger, extraServices });
  t.teardown(() => app.stop());
  return { app, config, baseUrl: `http://127.0.0.1:${app.http.port}`, logs: logger.records, logger };
}
