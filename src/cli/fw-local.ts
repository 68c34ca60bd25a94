import fs from 'node:fs';
import type { GatehouseConfig } from '../config/index.js';
import { createLogger } from '../log.js';
import { machinesTable } from '../mdb/model.js';
import { allMigrations } from '../migrations.js';
import { computeAllowed } from '../nft/allowed.js';
import { checkRuleset } from '../nft/ruleset-check.js';
import { ALLOWED_SET, planFromConfig, removeRulesetMessages, rulesetMessages } from '../nft/ruleset.js';
import { readContest, writeContest } from '../nft/state.js';
import { NftClient } from '../nft/tables/client.js';
import { FAMILIES } from '../nft/tables/constants.js';
import { Store } from '../store/index.js';
import { usersTable } from '../udb/model.js';
import type { CliIo } from './io.js';

/*
 * What `gatehouse fw` does itself when no server owns the data directory: program the kernel
 * over netlink, read and write the store. Loaded only then (fw.ts decides), and by `status`.
 */

async function withStore<T>(
  config: GatehouseConfig,
  fn: (store: Store) => Promise<T> | T,
): Promise<T | undefined> {
  if (!fs.existsSync(config.dataDir)) return undefined;
  const store = await Store.open({ dir: config.dataDir, migrations: allMigrations });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

export async function localUp(config: GatehouseConfig, io: CliIo): Promise<number> {
  const plan = planFromConfig(config.firewall, config.network);
  const client = new NftClient({ logger: createLogger({ level: 'warn' }), unref: true });
  try {
    // Without the server there are no presence sessions: keep who is in the set today and
    // add the organizer machines the store names.
    const current = ((await client.listSetKeys(FAMILIES.inet, plan.table, ALLOWED_SET)) ?? []).map((k) =>
      [...k].join('.'),
    );
    const computed = await withStore(config, (store) => {
      const contest = readContest(store)?.enabled ?? false;
      return computeAllowed({
        machines: store.read((tx) => tx.values(machinesTable(store))),
        users: store.read((tx) => tx.values(usersTable(store))),
        sessions: new Map(),
        allowedGroups: contest ? config.firewall.contestGroups : config.firewall.allowedGroups,
        lan: config.network.lan,
      });
    });
    const ips = [...new Set([...current, ...(computed?.kind === 'set' ? computed.ips : [])])];
    await client.commit(rulesetMessages(plan, ips));
    io.out(
      `fw up: table inet ${plan.table} programmed (${ips.length} allowed address(es)); start Gatehouse to follow presence`,
    );
    return 0;
  } finally {
    client.close();
  }
}

export async function localDown(config: GatehouseConfig, io: CliIo): Promise<number> {
  const client = new NftClient({ logger: createLogger({ level: 'warn' }), unref: true });
  try {
    await client.commit(removeRulesetMessages(config.firewall.table));
    io.out(`fw down: table inet ${config.firewall.table} removed (other tables untouched)`);
    return 0;
  } finally {
    client.close();
  }
}

export async function status(
  config: GatehouseConfig,
  io: CliIo,
  json: boolean,
  remote: () => Promise<Record<string, unknown> | undefined>,
): Promise<number> {
  const plan = planFromConfig(config.firewall, config.network);
  const client = new NftClient({ logger: createLogger({ level: 'warn' }), unref: true });
  let check: Awaited<ReturnType<typeof checkRuleset>>;
  try {
    check = await checkRuleset(client, plan);
  } finally {
    client.close();
  }
  const server = await remote();
  const contest = server
    ? Boolean(server.contest)
    : await withStore(config, (s) => readContest(s)?.enabled ?? false);
  if (json) {
    io.out(JSON.stringify({ kernel: check, server: server ?? null, contest: contest ?? null }));
  } else {
    io.out(
      `table inet ${plan.table}: ${check.present ? (check.ok ? 'up, as planned' : 'up, DIFFERS from plan') : 'absent'}`,
    );
    for (const p of check.problems) io.out(`  problem: ${p}`);
    io.out(`contest mode: ${contest === undefined ? 'unknown (no data directory)' : contest ? 'on' : 'off'}`);
    io.out(
      `allowed_internet_access: ${check.allowed.length} address(es)${check.allowed.length ? `: ${check.allowed.join(' ')}` : ''}`,
    );
    io.out(
      server
        ? `server: running (last recompute ${JSON.stringify(server.lastRecompute ?? null)})`
        : 'server: not running on this data directory',
    );
  }
  return check.ok ? 0 : 1;
}

/** Contest mode with no server running: saved in the store, applied when Gatehouse starts. */
export async function localContest(config: GatehouseConfig, io: CliIo, value: 'on' | 'off'): Promise<number> {
  fs.mkdirSync(config.dataDir, { recursive: true });
  await withStore(config, (store) => writeContest(store, value === 'on', 'cli'));
  io.out(
    `contest mode ${value} saved in ${config.dataDir} (no server running: it applies when Gatehouse starts)`,
  );
  return 0;
}
