import { Gatehouse } from '../app.js';
import { type GatehouseConfig, defaultConfig, loadConfigFile } from '../config/index.js';
import { errorMessage } from '../errors.js';
import { createLogger } from '../log.js';
import { demoTftpRoot, ensureDemoTftpRoot } from '../tftp/demo-root.js';
import { flagString, parseArgs } from './args.js';
import { removeServerLock, writeServerLock } from './server-lock.js';
import type { CommandGroup } from './io.js';

export function resolveConfig(file: string | undefined, dataDir: string | undefined): GatehouseConfig {
  const config = file ? loadConfigFile(file) : defaultConfig();
  if (dataDir) config.dataDir = dataDir;
  // Embedded defaults must be ready on a fresh clone: a demo TFTP root in the data folder.
  if (!file) config.tftp.root = demoTftpRoot(config.dataDir);
  return config;
}

export const serveCommand: CommandGroup = {
  name: 'serve',
  summary: 'run the appliance: gatehouse serve [--config FILE] [--data DIR]',
  async run(argv, io) {
    const args = parseArgs(argv, { values: ['config', 'data'] });
    const file = flagString(args, 'config');
    const dataDir = flagString(args, 'data');
    const config = resolveConfig(file, dataDir);
    const logger = createLogger({ level: config.log.level });
    if (!file) ensureDemoTftpRoot(config.tftp.root);
    const app = await Gatehouse.start({ config, logger });
    writeServerLock(config.dataDir, { pid: process.pid, http: app.http.addresses()[0]! });
    io.out(`gatehouse listening: http ${app.http.addresses().join(', ')} (data in ${config.dataDir})`);
    await new Promise<void>((resolve) => {
      process.on('SIGHUP', () => {
        if (!file) {
          logger.warn('gatehouse.reload_skipped', { reason: 'started on embedded defaults; nothing to re-read' });
          return;
        }
        try {
          const next = resolveConfig(file, dataDir);
          void app.reload(next);
        } catch (e) {
          // A bad file keeps the running configuration (issue #2).
          logger.error('gatehouse.reload_rejected', { reason: errorMessage(e) });
        }
      });
      const shutdown = (signal: string) => {
        logger.info('gatehouse.stopping', { signal });
        void app.stop().then(() => {
          removeServerLock(config.dataDir, process.pid);
          resolve();
        });
      };
      process.once('SIGTERM', () => shutdown('SIGTERM'));
      process.once('SIGINT', () => shutdown('SIGINT'));
    });
    return 0;
  },
};

export const checkConfigCommand: CommandGroup = {
  name: 'check-config',
  summary: 'validate a configuration file without starting: gatehouse check-config FILE',
  async run(argv, io) {
    const args = parseArgs(argv, {});
    const file = args.positionals[0];
    if (!file) {
      io.err('usage: gatehouse check-config FILE');
      return 2;
    }
    const config = loadConfigFile(file);
    const demo = Object.entries(config.secrets).filter(([, v]) => v.startsWith('demo-'));
    for (const [k] of demo) io.err(`${file}: warning: secrets.${k} is the demo default; set a real secret`);
    io.out(`${file}: ok`);
    return 0;
  },
};
