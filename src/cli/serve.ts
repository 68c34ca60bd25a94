import { Gatehouse } from '../app.js';
import { errorMessage } from '../errors.js';
import { createLogger } from '../log.js';
import { missingServeNodeFlags } from '../runtime-flags.js';
import { demoTftpRoot, ensureDemoTftpRoot } from '../tftp/demo-root.js';
import { parseArgs } from './args.js';
import { configSource, loadConfig } from './config-source.js';
import type { CommandRun } from './io.js';
import { removeServerLock, writeServerLock } from './server-lock.js';

/** `gatehouse serve`: runs the appliance until SIGTERM/SIGINT; SIGHUP re-reads the file. */
export const serve: CommandRun = async (argv, io) => {
  const args = parseArgs(argv, { values: ['config', 'data'] });
  const source = configSource(args);
  const file = source.file;
  const config = await loadConfig(source);
  // Embedded defaults must be ready on a fresh clone: a demo TFTP root in the data folder.
  if (!file) config.tftp.root = demoTftpRoot(config.dataDir);
  const logger = createLogger({ level: config.log.level });
  const missingFlags = missingServeNodeFlags();
  if (missingFlags.length > 0)
    logger.warn('serve.node_flags_missing', {
      missing: missingFlags,
      effect: 'the start-up warm-ups are undone by the first idle GCs; a boot storm after an idle wait meets cold code',
      fix: `start node with ${missingFlags.join(' ')} (docs/operations.md §3), or run the gatehouse binary itself`,
    });
  if (!file) ensureDemoTftpRoot(config.tftp.root);
  const app = await Gatehouse.start({ config, logger });
  writeServerLock(config.dataDir, { pid: process.pid, http: app.http.addresses()[0]! });
  io.out(`gatehouse listening: http ${app.http.addresses().join(', ')} (data in ${config.dataDir})`);
  await new Promise<void>((resolve) => {
    process.on('SIGHUP', () => {
      if (!file) {
        logger.warn('gatehouse.reload_skipped', {
          reason: 'started on embedded defaults; nothing to re-read',
        });
        return;
      }
      void loadConfig(source).then(
        (next) => app.reload(next),
        // A bad file keeps the running configuration (issue #2).
        (e: unknown) => logger.error('gatehouse.reload_rejected', { reason: errorMessage(e) }),
      );
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
};
