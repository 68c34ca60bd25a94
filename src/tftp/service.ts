/**
 * The TFTP service as the composition root sees it: built from `tftp:` config, ready once the
 * root directory exists. A missing root is not fatal (the operator may provision it after
 * install): the service runs, /readyz says why it is not ready, and requests get "File not found".
 */
import fs from 'node:fs';
import type { GatehouseConfig } from '../config/index.js';
import { bootProgressOf } from '../boot/service.js';
import type { Service, ServiceContext } from '../service.js';
import { TftpServer } from './server.js';

export class TftpService implements Service {
  readonly name = 'tftp';
  readonly server: TftpServer;

  constructor(ctx: ServiceContext) {
    this.server = new TftpServer(ctx.config.tftp, ctx.logger.child({ service: 'tftp' }), ctx.metrics, {
      boot: bootProgressOf(ctx.services),
    });
  }

  start(): Promise<void> {
    return this.server.start();
  }

  stop(): Promise<void> {
    return this.server.stop();
  }

  rewarm(): Promise<void> {
    return this.server.rewarm();
  }

  reload(config: GatehouseConfig): void {
    this.server.reload(config.tftp);
  }

  notReady(): string | undefined {
    const root = this.server.root;
    try {
      if (!fs.statSync(root).isDirectory()) return `root ${root} is not a directory (tftp.root)`;
    } catch {
      return `root ${root} does not exist; create it or set tftp.root`;
    }
    return undefined;
  }
}

export function tftpServiceFactory(ctx: ServiceContext): Service | undefined {
  return ctx.config.tftp.enabled ? new TftpService(ctx) : undefined;
}
