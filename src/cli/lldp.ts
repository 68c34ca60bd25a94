import { adminCall } from './admin-api.js';
import { GatehouseError } from '../errors.js';
import type { Neighbour } from '../lldp/neighbours.js';
import { flagString, parseArgs, UsageError } from './args.js';
import { type ConfigSource, configSource, locateServer } from './config-source.js';
import type { CliIo, CommandRun } from './io.js';

/**
 * `gatehouse lldp …`: the neighbour table lives in the running server's memory, so both
 * subcommands go through its admin API (found with the data directory's server lock).
 */
export const lldp: CommandRun = async (argv, io) => {
  const [sub, ...rest] = argv;
  if (sub === 'neighbours' || sub === 'neighbors') return neighbours(rest, io);
  if (sub === 'switch') return makeSwitch(rest, io);
  throw new UsageError(sub ? `unknown command "${sub}"` : 'missing command');
};

async function call(
  source: ConfigSource,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const server = await locateServer(source);
  if (!server.http) {
    throw new GatehouseError(
      'GH_NOT_FOUND',
      `no Gatehouse server runs on ${server.dataDir}: LLDP neighbours live in the running server's memory (start it, or pass its --config/--data)`,
    );
  }
  const { status, json } = await adminCall(server.http, server.adminToken, method, path, body);
  if (status === 404 && path.endsWith('/neighbours') && json.code === undefined) {
    throw new GatehouseError(
      'GH_NOT_FOUND',
      'the server does not listen to LLDP (set lldp.enabled: true and lldp.interfaces)',
    );
  }
  return { status, json };
}

async function neighbours(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, { values: ['config', 'data'], booleans: ['json'] });
  const { status, json } = await call(configSource(args), 'GET', '/api/v1/lldp/neighbours');
  if (status !== 200)
    throw new GatehouseError('GH_INTERNAL', `the server answered ${status}: ${String(json.error ?? '')}`);
  const list = (json.neighbours ?? []) as Neighbour[];
  if (args.flags.get('json')) {
    io.out(JSON.stringify(list, null, 2));
    return 0;
  }
  io.out(formatNeighbours(list));
  return 0;
}

export function formatNeighbours(list: readonly Neighbour[]): string {
  const rows = [
    ['INTERFACE', 'CHASSIS', 'PORT', 'SYSTEM NAME', 'VLAN', 'LAST SEEN', 'TTL'],
    ...list.map((n) => [
      n.interface,
      n.chassis,
      n.port,
      n.systemName ?? '-',
      n.portVlanId === null ? '-' : String(n.portVlanId),
      n.lastSeen,
      String(n.ttl),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
  if (list.length === 0) lines.push('(no LLDP neighbour seen yet)');
  return lines.join('\n');
}

async function makeSwitch(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, { values: ['config', 'data', 'name', 'rfs', 'hfs', 'room'] });
  const chassis = args.positionals[0];
  if (!chassis || args.positionals.length > 1)
    throw new UsageError('expected exactly one CHASSIS (see gatehouse lldp neighbours)');
  const body: Record<string, unknown> = {};
  const name = flagString(args, 'name');
  if (name !== undefined) body.name = name;
  for (const k of ['rfs', 'hfs'] as const) {
    const v = flagString(args, k);
    if (v !== undefined) {
      if (!/^\d+$/.test(v)) throw new UsageError(`--${k} must be a non-negative integer`);
      body[k] = Number(v);
    }
  }
  const room = flagString(args, 'room');
  if (room !== undefined) body.room = room;
  const { status, json } = await call(
    configSource(args),
    'POST',
    `/api/v1/lldp/neighbours/${encodeURIComponent(chassis)}/switch`,
    body,
  );
  if (status !== 201) {
    io.err(
      `gatehouse lldp switch: ${String(json.error ?? `HTTP ${status}`)}${json.code ? ` [${String(json.code)}]` : ''}`,
    );
    return 1;
  }
  io.out(JSON.stringify(json.switch));
  return 0;
}
