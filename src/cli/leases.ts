import { byAddress } from '../dhcp/leases.js';
import type { LeaseRecord } from '../dhcp/leases.js';
import { readEngineState, readLeases } from '../dhcp/lease-store.js';
import { allMigrations } from '../migrations.js';
import { Store } from '../store/index.js';
import { parseArgs } from './args.js';
import { configSource, loadConfig } from './config-source.js';
import type { CommandRun } from './io.js';

type Status = 'active' | 'expired' | 'released' | 'declined';

function status(r: LeaseRecord, now: number): Status {
  if (r.state === 'released') return 'released';
  if (r.state === 'declined') return r.expires > now ? 'declined' : 'expired';
  return r.expires > now ? 'active' : 'expired';
}

function pad(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
}

/**
 * `gatehouse leases` lists the DHCP leases of the alien pool as the store holds them (offers
 * are in the server's memory only and are not listed). It reads the store directly, which LMDB
 * allows beside a running server. Without `--all`, rows expired more than a day ago are hidden.
 */
export const leases: CommandRun = async (argv, io) => {
  const args = parseArgs(argv, { values: ['config', 'data'], booleans: ['json', 'all'] });
  const config = await loadConfig(configSource(args));
  const store = await Store.open({ dir: config.dataDir, migrations: allMigrations });
  try {
    const now = Date.now();
    const { rows, state } = store.read((tx) => ({ rows: readLeases(tx), state: readEngineState(tx) }));
    const shown = rows
      .filter((r) => args.flags.has('all') || r.state === 'bound' || r.expires > now - 86_400_000)
      .sort(byAddress)
      .map((r) => ({ ...r, status: status(r, now), expiresIn: Math.round((r.expires - now) / 1000) }));
    if (args.flags.has('json')) {
      io.out(JSON.stringify({ serverRunning: state?.running ?? false, leases: shown }, null, 2));
      return 0;
    }
    if (shown.length === 0) {
      io.out('no leases');
      return 0;
    }
    const table = [['ADDRESS', 'MAC', 'STATUS', 'EXPIRES', 'HOSTNAME', 'CLIENT-ID']];
    for (const r of shown) {
      table.push([
        r.ip,
        r.mac,
        r.status,
        new Date(r.expires).toISOString(),
        r.hostname ?? '-',
        r.clientId ?? '-',
      ]);
    }
    for (const line of pad(table)) io.out(line);
    return 0;
  } finally {
    await store.close();
  }
};
