import fs from 'node:fs';
import type { GatehouseConfig } from '../config/index.js';
import { GatehouseError } from '../errors.js';
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
import { flagString, parseArgs } from './args.js';
import { UsageError } from './args.js';
import type { CliIo, CommandGroup } from './io.js';
import { resolveConfig } from './serve.js';
import { adminCall } from './admin-api.js';
import { readServerLock } from './server-lock.js';

/**
 * `gatehouse fw up|down|status|contest on|off`. With a server running on the data directory
 * the command goes through its admin API (the server owns the table and the set); otherwise
 * it programs the kernel / the store itself.
 */
const USAGE = 'gatehouse fw up|down|status [--json]|contest on|off [--config FILE] [--data DIR]';

async function remote(
  config: GatehouseConfig,
  method: 'GET' | 'POST',
  action: string,
  body?: unknown,
): Promise<Record<string, unknown> | undefined> {
  const lock = readServerLock(config.dataDir);
  if (!lock) return undefined;
  const { status, json, text } = await adminCall(
    lock.http,
    config.secrets.adminToken,
    method,
    `/api/v1/firewall/${action}`,
    body,
  );
  if (status !== 200) {
    throw new GatehouseError(
      'GH_NETLINK',
      `the running server refused fw ${action} (HTTP ${status}): ${String(json.error ?? text).trim()}`,
    );
  }
  return json;
}

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

async function localUp(config: GatehouseConfig, io: CliIo): Promise<number> {
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

async function localDown(config: GatehouseConfig, io: CliIo): Promise<number> {
  const client = new NftClient({ logger: createLogger({ level: 'warn' }), unref: true });
  try {
    await client.commit(removeRulesetMessages(config.firewall.table));
    io.out(`fw down: table inet ${config.firewall.table} removed (other tables untouched)`);
    return 0;
  } finally {
    client.close();
  }
}

async function status(config: GatehouseConfig, io: CliIo, json: boolean): Promise<number> {
  const plan = planFromConfig(config.firewall, config.network);
  const client = new NftClient({ logger: createLogger({ level: 'warn' }), unref: true });
  let check: Awaited<ReturnType<typeof checkRuleset>>;
  try {
    check = await checkRuleset(client, plan);
  } finally {
    client.close();
  }
  const server = await remote(config, 'GET', 'status');
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

async function contest(config: GatehouseConfig, io: CliIo, value: string | undefined): Promise<number> {
  if (value !== 'on' && value !== 'off')
    throw new UsageError('say "gatehouse fw contest on" or "gatehouse fw contest off"');
  const enabled = value === 'on';
  const groups = enabled ? config.firewall.contestGroups : config.firewall.allowedGroups;
  const server = await remote(config, 'POST', 'contest', { enabled });
  if (server) {
    const rc = server.recompute as { count?: number } | undefined;
    io.out(
      `contest mode ${value}: allowed groups ${groups.join(', ')}; set now holds ${rc?.count ?? '?'} address(es)`,
    );
    return 0;
  }
  fs.mkdirSync(config.dataDir, { recursive: true });
  await withStore(config, (store) => writeContest(store, enabled, 'cli'));
  io.out(
    `contest mode ${value} saved in ${config.dataDir} (no server running: it applies when Gatehouse starts)`,
  );
  return 0;
}

export const fwCommand: CommandGroup = {
  name: 'fw',
  summary: `firewall: ${USAGE}`,
  async run(argv, io) {
    const args = parseArgs(argv, { values: ['config', 'data'], booleans: ['json'] });
    const config = resolveConfig(flagString(args, 'config'), flagString(args, 'data'));
    const [sub, value] = args.positionals;
    switch (sub) {
      case 'up': {
        const server = await remote(config, 'POST', 'up');
        if (server) {
          io.out(`fw up: table ${String(server.table)} re-created by the running server`);
          return 0;
        }
        return localUp(config, io);
      }
      case 'down': {
        const server = await remote(config, 'POST', 'down');
        if (server) {
          io.out(
            `fw down: table ${String(server.table)} removed by the running server (set updates paused until "fw up")`,
          );
          return 0;
        }
        return localDown(config, io);
      }
      case 'status':
        return status(config, io, args.flags.has('json'));
      case 'contest':
        return contest(config, io, value);
      default:
        throw new UsageError(`usage: ${USAGE}`);
    }
  },
};
