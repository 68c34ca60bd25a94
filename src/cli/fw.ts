import { GatehouseError } from '../errors.js';
import { adminCall } from './admin-api.js';
import { type ConfigSource, configSource, loadConfig, locateServer } from './config-source.js';
import { parseArgs, UsageError } from './args.js';
import type { CommandRun } from './io.js';

/**
 * `gatehouse fw up|down|status|contest on|off`. With a server running on the data directory
 * the command goes through its admin API (the server owns the table and the set); otherwise
 * it programs the kernel / the store itself (fw-local.ts, loaded only then). Usage: commands.ts.
 */
async function remote(
  source: ConfigSource,
  method: 'GET' | 'POST',
  action: string,
  body?: unknown,
): Promise<Record<string, unknown> | undefined> {
  const server = await locateServer(source);
  if (!server.http) return undefined;
  const { status, json, text } = await adminCall(
    server.http,
    server.adminToken,
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

const local = () => import('./fw-local.js');

export const fw: CommandRun = async (argv, io) => {
  const args = parseArgs(argv, { values: ['config', 'data'], booleans: ['json'] });
  const source = configSource(args);
  const [sub, value] = args.positionals;
  switch (sub) {
    case 'up': {
      const server = await remote(source, 'POST', 'up');
      if (server) {
        io.out(`fw up: table ${String(server.table)} re-created by the running server`);
        return 0;
      }
      return (await local()).localUp(await loadConfig(source), io);
    }
    case 'down': {
      const server = await remote(source, 'POST', 'down');
      if (server) {
        io.out(
          `fw down: table ${String(server.table)} removed by the running server (set updates paused until "fw up")`,
        );
        return 0;
      }
      return (await local()).localDown(await loadConfig(source), io);
    }
    case 'status':
      return (await local()).status(await loadConfig(source), io, args.flags.has('json'), () =>
        remote(source, 'GET', 'status'),
      );
    case 'contest': {
      if (value !== 'on' && value !== 'off')
        throw new UsageError('say "gatehouse fw contest on" or "gatehouse fw contest off"');
      const server = await remote(source, 'POST', 'contest', { enabled: value === 'on' });
      if (server) {
        const rc = server.recompute as { count?: number } | undefined;
        const groups = Array.isArray(server.allowedGroups) ? server.allowedGroups.join(', ') : '?';
        io.out(
          `contest mode ${value}: allowed groups ${groups}; set now holds ${rc?.count ?? '?'} address(es)`,
        );
        return 0;
      }
      return (await local()).localContest(await loadConfig(source), io, value);
    }
    case undefined:
      throw new UsageError('missing command');
    default:
      throw new UsageError(`unknown command "${sub}"`);
  }
};
