/**
 * Storm statistics: completion, failures by phase and reason, percentiles (a machine that never
 * finished counts as infinitely late), retransmissions; the per-machine CSV; the comparison table.
 */

import { type MachineResult, PHASES } from './machine.js';
import type { KernelCounters } from './probes.js';

export interface StormSummary {
  server: string;
  run: number;
  n: number;
  completed: number;
  failures: Record<string, number>;
  /** Time to boot script, seconds; Infinity when some machines never got there. */
  total: Percentiles;
  phases: Record<string, Percentiles>;
  retransmissions: {
    dhcpPxe: number;
    dhcpIpxe: number;
    tftp: number;
    dns: number;
    machinesWithDhcpRetransmission: number;
  };
  httpKeepAlive: number;
  serverCpuSeconds: number;
  cpuMsPerBooted: number;
  peakRssMb: number;
  kernel: KernelCounters;
  clientUdpRcvbufErrors: number;
  boxBusyBeforePct: number;
  boxBusyDuringPct: number;
  wallSeconds: number;
  notes: string[];
}

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles of `values` (seconds); NaN entries are skipped. */
export function percentiles(values: readonly number[]): Percentiles {
  const v = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  const at = (q: number) =>
    v.length === 0 ? Number.NaN : v[Math.min(v.length - 1, Math.max(0, Math.ceil(q * v.length) - 1))]!;
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: v.length ? v[v.length - 1]! : Number.NaN };
}

const PHASE_FIELD: Record<(typeof PHASES)[number], keyof MachineResult> = {
  'dhcp-pxe': 'dhcpPxeMs',
  tftp: 'tftpMs',
  'dhcp-ipxe': 'dhcpIpxeMs',
  http: 'httpMs',
  dns: 'dnsMs',
};

export function summarizeMachines(results: readonly MachineResult[]) {
  const failures: Record<string, number> = {};
  for (const r of results) {
    if (!r.completed)
      failures[`${r.failPhase}:${r.failReason}`] = (failures[`${r.failPhase}:${r.failReason}`] ?? 0) + 1;
  }
  const phases: Record<string, Percentiles> = {};
  for (const p of PHASES) phases[p] = percentiles(results.map((r) => (r[PHASE_FIELD[p]] as number) / 1000));
  const sum = (f: (r: MachineResult) => number) => results.reduce((s, r) => s + f(r), 0);
  return {
    completed: results.filter((r) => r.completed).length,
    failures,
    total: percentiles(results.map((r) => (r.completed ? r.bootScriptMs / 1000 : Number.POSITIVE_INFINITY))),
    phases,
    retransmissions: {
      dhcpPxe: sum((r) => r.pxeRetransmissions),
      dhcpIpxe: sum((r) => r.ipxeRetransmissions),
      tftp: sum((r) => r.tftpRetransmissions),
      dns: sum((r) => r.dnsRetransmissions),
      machinesWithDhcpRetransmission: results.filter((r) => r.pxeRetransmissions + r.ipxeRetransmissions > 0)
        .length,
    },
    httpKeepAlive: results.filter((r) => r.httpKeepAlive).length,
  };
}

const CSV_FIELDS: Array<keyof MachineResult> = [
  'index',
  'mac',
  'hostname',
  'ip',
  'completed',
  'failPhase',
  'failReason',
  'arrivalMs',
  'dhcpPxeMs',
  'tftpMs',
  'dhcpIpxeMs',
  'httpMs',
  'dnsMs',
  'bootScriptMs',
  'pxeRetransmissions',
  'ipxeRetransmissions',
  'tftpRetransmissions',
  'tftpBytes',
  'tftpTsize',
  'httpKeepAlive',
  'dnsRetransmissions',
];

export function csvHeader(): string {
  return ['server', 'run', ...CSV_FIELDS].join(',');
}

export function csvRows(server: string, run: number, results: readonly MachineResult[]): string[] {
  const cell = (v: unknown) =>
    typeof v === 'number'
      ? Number.isNaN(v)
        ? ''
        : Number.isInteger(v)
          ? String(v)
          : v.toFixed(1)
      : String(v);
  return results.map((r) => [server, run, ...CSV_FIELDS.map((f) => cell(r[f]))].join(','));
}

export const fmtS = (v: number, digits = 2) =>
  v === Number.POSITIVE_INFINITY ? '∞' : Number.isNaN(v) ? '-' : v.toFixed(digits);

export function describe(s: StormSummary): string {
  const lines = [
    `${s.server} run ${s.run}: ${s.completed}/${s.n} booted; time to boot script p50 ${fmtS(s.total.p50)} s, p95 ${fmtS(s.total.p95)} s, p99 ${fmtS(s.total.p99)} s, max ${fmtS(s.total.max)} s (wall ${fmtS(s.wallSeconds, 1)} s)`,
    `  phases (p50/p95/p99/max s): ${Object.entries(s.phases)
      .map(([p, v]) => `${p} ${fmtS(v.p50)}/${fmtS(v.p95)}/${fmtS(v.p99)}/${fmtS(v.max)}`)
      .join('; ')}`,
    `  retransmissions: PXE DHCP ${s.retransmissions.dhcpPxe}, iPXE DHCP ${s.retransmissions.dhcpIpxe} (${s.retransmissions.machinesWithDhcpRetransmission} machines), TFTP ${s.retransmissions.tftp}, DNS ${s.retransmissions.dns}; HTTP keep-alive reused ${s.httpKeepAlive}/${s.completed}`,
    `  server: CPU ${fmtS(s.serverCpuSeconds)} s (${fmtS(s.cpuMsPerBooted)} ms per booted machine), peak memory ${fmtS(s.peakRssMb, 0)} MB; kernel: UDP RcvbufErrors ${s.kernel.udpRcvbufErrors}, InErrors ${s.kernel.udpInErrors}, ListenOverflows ${s.kernel.listenOverflows}, ListenDrops ${s.kernel.listenDrops}; client-side UDP RcvbufErrors ${s.clientUdpRcvbufErrors}`,
    `  box busy: ${fmtS(s.boxBusyBeforePct, 0)} % before, ${fmtS(s.boxBusyDuringPct, 0)} % during`,
  ];
  const f = Object.entries(s.failures);
  if (f.length) lines.push(`  failures: ${f.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  if (s.notes.length) lines.push(`  server log: ${s.notes.join('; ')}`);
  return lines.join('\n');
}

/** Markdown comparison: one row per server and run, then the peers' ratios to Gatehouse. */
export function comparisonTable(rows: readonly StormSummary[]): string {
  const out = [
    '| server | run | booted | p50 s | p95 s | p99 s | max s | DHCP retx | TFTP retx | CPU s | CPU ms/boot | peak mem MB | UDP rcvbuf drops | listen overflows | box busy before/during % |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const s of rows) {
    out.push(
      `| ${s.server} | ${s.run} | ${s.completed}/${s.n} | ${fmtS(s.total.p50)} | ${fmtS(s.total.p95)} | ${fmtS(s.total.p99)} | ${fmtS(s.total.max)} | ${s.retransmissions.dhcpPxe + s.retransmissions.dhcpIpxe} | ${s.retransmissions.tftp} | ${fmtS(s.serverCpuSeconds)} | ${fmtS(s.cpuMsPerBooted)} | ${fmtS(s.peakRssMb, 0)} | ${s.kernel.udpRcvbufErrors} | ${s.kernel.listenOverflows} | ${fmtS(s.boxBusyBeforePct, 0)}/${fmtS(s.boxBusyDuringPct, 0)} |`,
    );
  }
  const runs = [...new Set(rows.map((r) => r.run))];
  const ratio = (a: number, b: number) =>
    a === Number.POSITIVE_INFINITY && b === Number.POSITIVE_INFINITY ? '-' : b > 0 ? `${fmtS(a / b)}x` : '-';
  const ratios: string[] = [];
  for (const run of runs) {
    const g = rows.find((r) => r.server === 'gatehouse' && r.run === run);
    if (!g) continue;
    for (const p of rows.filter((r) => r.server !== 'gatehouse' && r.run === run)) {
      ratios.push(
        `| ${p.server} / gatehouse | ${run} | ${p.completed}/${g.completed} | ${ratio(p.total.p50, g.total.p50)} | ${ratio(p.total.p95, g.total.p95)} | ${ratio(p.total.p99, g.total.p99)} | ${ratio(p.serverCpuSeconds, g.serverCpuSeconds)} | ${ratio(p.cpuMsPerBooted, g.cpuMsPerBooted)} | ${ratio(p.peakRssMb, g.peakRssMb)} |`,
      );
    }
  }
  if (ratios.length) {
    out.push(
      '',
      '| ratio (peer / Gatehouse) | run | booted | p50 | p95 | p99 | CPU s | CPU/boot | peak mem |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...ratios,
    );
  }
  return out.join('\n');
}
