import { BOOT_PHASES, type BootPhase, type BootProgressEntry, currentPhase } from '../boot/progress.js';
import { GatehouseError } from '../errors.js';
import { adminCall } from './admin-api.js';
import { parseArgs, UsageError } from './args.js';
import { configSource, locateServer } from './config-source.js';
import type { CommandRun } from './io.js';

export interface BootStatusReply {
  counts: Record<BootPhase, number>;
  machines: BootProgressEntry[];
  unidentified: number;
}

const HEADINGS: Record<BootPhase, string> = {
  dhcpPxe: 'DHCP-PXE',
  tftpDone: 'TFTP-DONE',
  dhcpIpxe: 'DHCP-IPXE',
  bootScript: 'BOOT-SCRIPT',
};

/**
 * `gatehouse boot status`: where every machine is in its network boot (src/boot/progress.ts).
 * The tracker lives in the running server's memory, so this asks its admin API. The table has
 * one row per room: machines whose latest event is each phase, and the total seen; `--json`
 * gives every machine with the time of each phase.
 */
export const boot: CommandRun = async (argv, io) => {
  const [sub, ...rest] = argv;
  if (sub !== 'status') throw new UsageError(sub ? `unknown command "${sub}"` : 'missing command');
  const args = parseArgs(rest, { values: ['config', 'data'], booleans: ['json'] });
  const server = await locateServer(configSource(args));
  if (!server.http) {
    throw new GatehouseError(
      'GH_NOT_FOUND',
      `no Gatehouse server runs on ${server.dataDir}: boot progress lives in the running server's memory (start it, or pass its --config/--data)`,
    );
  }
  const { status, json } = await adminCall(server.http, server.adminToken, 'GET', '/api/v1/boot/status');
  if (status !== 200)
    throw new GatehouseError('GH_INTERNAL', `the server answered ${status}: ${String(json.error ?? '')}`);
  const reply = json as unknown as BootStatusReply;
  if (args.flags.get('json')) io.out(JSON.stringify(reply, null, 2));
  else io.out(formatBootStatus(reply));
  return 0;
};

/** One row per room (`-` for machines MDB does not know), then the total. */
export function formatBootStatus(reply: BootStatusReply): string {
  const rooms = new Map<string, Record<BootPhase, number> & { seen: number }>();
  const row = (room: string) => {
    let r = rooms.get(room);
    if (!r) {
      r = { dhcpPxe: 0, tftpDone: 0, dhcpIpxe: 0, bootScript: 0, seen: 0 };
      rooms.set(room, r);
    }
    return r;
  };
  for (const m of reply.machines) {
    const r = row(m.room ?? '-');
    r.seen++;
    const p = currentPhase(m);
    if (p) r[p]++;
  }
  const total = { dhcpPxe: 0, tftpDone: 0, dhcpIpxe: 0, bootScript: 0, seen: 0 };
  for (const r of rooms.values()) {
    total.seen += r.seen;
    for (const p of BOOT_PHASES) total[p] += r[p];
  }
  const cells = (name: string, r: typeof total) => [
    name,
    ...BOOT_PHASES.map((p) => String(r[p])),
    String(r.seen),
  ];
  const table = [
    ['ROOM', ...BOOT_PHASES.map((p) => HEADINGS[p]), 'SEEN'],
    ...[...rooms.keys()].sort().map((k) => cells(k, rooms.get(k)!)),
    cells('total', total),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  const lines = table.map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
  lines.push('(machines counted in the phase of their latest event)');
  if (reply.unidentified > 0)
    lines.push(`${reply.unidentified} TFTP transfer(s) from addresses no lease or MDB entry names`);
  return lines.join('\n');
}
