import { bootServiceFactory } from './boot/service.js';
import { netbootService } from './http/netboot/service.js';
import { httpWarmupService } from './http/netboot/warmup-service.js';
import { lldpService } from './lldp/service.js';
import { mdbServiceFactory } from './mdb/service.js';
import { firewallServiceFactory } from './nft/service.js';
import { presenceServiceFactory } from './presence/service.js';
import { dnsServiceFactory } from './dns/service.js';
import { dhcpService } from './dhcp/server.js';
import { primaryOnly } from './ha/primary-only.js';
import { haServiceFactory } from './ha/service.js';
import { ssoServiceFactory } from './presence/sso.js';
import type { Service, ServiceContext } from './service.js';
import { tftpServiceFactory } from './tftp/service.js';
import { udbServiceFactory } from './udb/service.js';
import { webServiceFactory } from './web/service.js';

/**
 * The services the composition root starts, in order (stopped in reverse). Each entry returns
 * undefined when its config section disables it. Protocol folders add one line here.
 */
export const serviceFactories: Array<(ctx: ServiceContext) => Service | undefined | Promise<Service | undefined>> = [
  haServiceFactory,
  mdbServiceFactory,
  // Before the services that report boot progress into it (DHCP, TFTP, netboot).
  bootServiceFactory,
  tftpServiceFactory,
  dnsServiceFactory,
  primaryOnly(dhcpService),
  netbootService,
  // Runs after the HTTP server listens (Service.afterStart).
  httpWarmupService,
  lldpService,
  udbServiceFactory,
  presenceServiceFactory,
  ssoServiceFactory,
  firewallServiceFactory,
  // Last: it wraps the mdb/udb hosts and reads every service above.
  webServiceFactory,
];
