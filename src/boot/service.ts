/**
 * The `boot` service: owns the BootProgress tracker that DHCP, TFTP and netboot report into
 * (they find it in ServiceContext.services by name, so it starts before them), exports
 * `gatehouse_boot_machines{phase}` and serves `GET /api/v1/boot/status` for
 * `gatehouse boot status` and the admin dashboard.
 */
import type { GatehouseConfig } from '../config/index.js';
import { AdminApi } from '../http/admin-api/router.js';
import { findMachineByIp, findMachineByMac } from '../mdb/machines.js';
import type { Machine } from '../mdb/model.js';
import type { Service, ServiceContext } from '../service.js';
import { udbAdminDirectory } from '../udb/admin-directory.js';
import { BOOT_PHASES, BootProgress, type KnownMachine, type MachineLookup } from './progress.js';

export const BOOT_SERVICE = 'boot';

export class BootService implements Service {
  readonly name = BOOT_SERVICE;
  readonly progress: BootProgress;
  private config: GatehouseConfig;

  constructor(private readonly ctx: ServiceContext) {
    this.config = ctx.config;
    this.progress = new BootProgress({ lookup: mdbLookup(ctx) });
  }

  async start(): Promise<void> {
    const { metrics } = this.ctx;
    const gauge = metrics.gauge(
      'gatehouse_boot_machines',
      'Machines whose latest boot event is this phase (dhcpPxe, tftpDone, dhcpIpxe, bootScript)',
      ['phase'],
    );
    const progress = this.progress;
    // Counted on scrape (prom-client calls collect): the packet paths only record.
    (gauge as unknown as { collect?: () => void }).collect = function collect() {
      const counts = progress.counts();
      for (const p of BOOT_PHASES) gauge.set({ phase: p }, counts[p]);
    };
    const api = new AdminApi({
      config: () => this.config,
      logger: this.ctx.logger.child({ part: 'boot' }),
      metrics,
      directory: udbAdminDirectory(this.ctx.store, this.ctx.services),
    });
    api.get(
      '/api/v1/boot/status',
      () => ({
        counts: progress.counts(),
        machines: progress.snapshot(),
        unidentified: progress.unidentified,
      }),
      'orga',
    );
    api.mount(this.ctx.routes);
  }

  async stop(): Promise<void> {}

  reload(config: GatehouseConfig): void {
    this.config = config;
  }
}

/** The tracker of a running appliance, for the services that report into it. */
export function bootProgressOf(services: readonly Service[]): BootProgress | undefined {
  const s = services.find((x) => x.name === BOOT_SERVICE);
  return s instanceof BootService ? s.progress : undefined;
}

/** MDB lookups straight from the store (indexed reads); nothing when MDB has no tables. */
function mdbLookup(ctx: ServiceContext): MachineLookup {
  const known = (m: Machine | undefined): KnownMachine | undefined =>
    m ? { mac: m.mac.toLowerCase(), ip: m.ip, hostname: m.hostname, room: m.room } : undefined;
  const read = (f: (tx: Parameters<Parameters<typeof ctx.store.read>[0]>[0]) => Machine | undefined) => {
    try {
      return known(ctx.store.read(f));
    } catch {
      return undefined;
    }
  };
  return {
    byMac: (mac) => read((tx) => findMachineByMac(tx, mac)),
    byIp: (ip) => read((tx) => findMachineByIp(tx, ip)),
  };
}

export const bootServiceFactory = (ctx: ServiceContext): Service => new BootService(ctx);
