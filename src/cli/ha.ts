import { GatehouseError } from '../errors.js';
import type { HaStatus } from '../ha/service.js';
import { adminCall } from './admin-api.js';
import { flagString, parseArgs, UsageError } from './args.js';
import { configSource, loadConfig } from './config-source.js';
import type { CliIo, CommandRun } from './io.js';
import { readServerLock } from './server-lock.js';

/**
 * `gatehouse ha …`: the running server's HA state (role, term, positions, lag), and the
 * keepalived notify hook's way to make it re-check its role now.
 */
export const ha: CommandRun = async (argv, io) => {
  const [sub, ...rest] = argv;
  if (sub === 'status') return status(rest, io);
  if (sub === 'notify') return notify(rest, io);
  throw new UsageError(sub ? `unknown command "${sub}"` : 'missing command');
};

async function call(argv: string[], method: 'GET' | 'POST', path: string) {
  const args = parseArgs(argv, { values: ['config', 'data', 'server'], booleans: ['json'] });
  const config = await loadConfig(configSource(args));
  if (!config.ha.enabled)
    throw new GatehouseError('GH_CONFIG_INVALID', 'ha.enabled is false in this configuration');
  const server = flagString(args, 'server') ?? readServerLock(config.dataDir)?.http;
  if (!server) {
    throw new GatehouseError(
      'GH_NOT_FOUND',
      `no Gatehouse server runs on ${config.dataDir} (start it, or pass --server HOST:PORT)`,
    );
  }
  // The HA endpoints take the pair's own secret, not the admin token.
  const { status: code, text } = await adminCall(server, config.secrets.haReplication, method, path);
  if (code !== 200) throw new GatehouseError('GH_INTERNAL', `the server answered ${code}: ${text.trim()}`);
  return { args, status: JSON.parse(text) as HaStatus };
}

async function status(argv: string[], io: CliIo): Promise<number> {
  const { args, status: s } = await call(argv, 'GET', '/ha/v1/status');
  if (args.flags.get('json')) {
    io.out(JSON.stringify(s, null, 2));
    return 0;
  }
  io.out(formatStatus(s));
  return 0;
}

export function formatStatus(s: HaStatus): string {
  const lines = [
    `node:        ${s.node}`,
    `role:        ${s.role} (${s.why})`,
    `term:        ${s.term}`,
    `mode:        ${s.mode}`,
    `applied:     transaction ${s.appliedR}, change seq ${s.seq}`,
    `primary at:  transaction ${s.primaryR}`,
    `lag:         ${s.lagTransactions} transactions, ${s.lagMs} ms`,
  ];
  if (s.following) {
    lines.push(
      `following:   ${s.following.peer} (${s.following.connected ? 'connected' : 'not connected'}; primary ${s.following.primaryNode || '?'} term ${s.following.primaryTerm}; ${s.following.snapshots} snapshots)`,
    );
  }
  if (s.standby) {
    lines.push(
      `standby:     ${s.standby.connected} connected, acknowledged ${s.standby.ackedR}${s.standby.syncDegraded ? ', SYNC DEGRADED TO ASYNC' : ''} (${s.standby.degradations} degradations)`,
    );
  }
  if (s.keepalived) lines.push(`keepalived:  ${s.keepalived.state} at ${s.keepalived.at}`);
  return lines.join('\n');
}

async function notify(argv: string[], io: CliIo): Promise<number> {
  const [state, ...rest] = argv;
  if (!state || !/^(MASTER|BACKUP|FAULT|STOP)$/.test(state))
    throw new UsageError('notify needs MASTER, BACKUP, FAULT or STOP');
  const { status: s } = await call(rest, 'POST', `/ha/v1/notify?state=${state}`);
  io.out(`${s.node}: ${s.role} (${s.why})`);
  return 0;
}
