import { canonicalName } from '../dns/names.js';
import { renderMasterFile } from '../dns/master-file.js';
import { zonesFromStore } from '../dns/export.js';
import { allMigrations } from '../migrations.js';
import { Store } from '../store/index.js';
import { UsageError, flagString, parseArgs } from './args.js';
import { configSource, loadConfig } from './config-source.js';
import type { CommandRun } from './io.js';

/**
 * `gatehouse zone export NAME` prints the zone as an RFC 1035 master file (what a secondary
 * would transfer); `gatehouse zone list` names the served zones with their serials. Both read
 * the store directly (LMDB allows it beside a running server) and never write zone data.
 */
export const zone: CommandRun = async (argv, io) => {
  const args = parseArgs(argv, { values: ['config', 'data', 'view'] });
  const [action, name] = args.positionals;
  const view = flagString(args, 'view') ?? 'normal';
  if (view !== 'normal' && view !== 'alien') throw new UsageError('--view is normal or alien');
  if (action === undefined) throw new UsageError('missing command');
  if (action !== 'export' && action !== 'list') throw new UsageError(`unknown command "${action}"`);
  if (action === 'export' && !name)
    throw new UsageError('zone export needs a zone name, e.g. gatehouse zone export prolo');
  const config = await loadConfig(configSource(args));
  const store = await Store.open({ dir: config.dataDir, migrations: allMigrations });
  try {
    const { zones, warnings } = zonesFromStore(store, config);
    for (const w of warnings) io.err(`warning: ${w}`);
    if (action === 'list') {
      for (const z of zones)
        io.out(
          `${z.view}\t${z.name}\t${z.serial}\t${z.records.length + 1} records${z.published ? '' : '\t(not yet served)'}`,
        );
      return 0;
    }
    const wanted = canonicalName(name!);
    const zone = zones.find((z) => z.view === view && z.name === wanted);
    if (!zone) {
      io.err(`gatehouse zone: no zone "${name}" in the ${view} view; see gatehouse zone list`);
      return 1;
    }
    const header = [`zone ${zone.name} (${zone.view} view) exported by gatehouse`];
    if (!zone.published) header.push(`serial ${zone.serial} is the one the server assigns at its next build`);
    io.out(renderMasterFile(zone, header).trimEnd());
    return 0;
  } finally {
    await store.close();
  }
};
