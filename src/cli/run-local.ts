import type { GatehouseConfig } from '../config/index.js';
import { GatehouseError } from '../errors.js';
import { createLogger } from '../log.js';
import { allMigrations } from '../migrations.js';
import { Store } from '../store/index.js';
import type { CliIo } from './io.js';
import { type OperationArgs, findOperation } from './operations.js';
import { progressPrinter } from './progress.js';
import '../mdb/operations.js';
import '../udb/operations.js';

/**
 * Runs an operation directly on the store, when no server owns the data directory. Loaded
 * only then (see run-operation.ts); importing the MDB and UDB operations registers them.
 */
export async function runLocally(
  name: string,
  args: OperationArgs,
  config: GatehouseConfig,
  io: CliIo,
): Promise<number> {
  const op = findOperation(name);
  if (!op) throw new GatehouseError('GH_INTERNAL', `operation ${name} is not registered`);
  const store = await Store.open({ dir: config.dataDir, migrations: allMigrations });
  try {
    return await op.run({ store, config, logger: createLogger({ level: 'warn' }) }, args, {
      out: (l) => io.out(l),
      err: (l) => io.err(l),
      progress: progressPrinter(io),
    });
  } finally {
    await store.close();
  }
}
