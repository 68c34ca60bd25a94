/**
 * What the bench measures around a storm: the server stack's CPU (cgroup v2, every process of
 * the stack and the children it forks) and peak memory, the kernel's drop counters in a
 * namespace, and how busy the whole box was (/proc/stat).
 */
import fs from 'node:fs';
import type { Netns } from '../../test/helpers/netns.js';
import { protoCounters } from '../../test/helpers/proc-net.js';
import { CpuGroup, kb, readProc } from '../tftp/procs.js';

export { CpuGroup };

/**
 * Peak memory of a stack, sampled every 100 ms: the summed PSS of its processes (shared pages
 * counted once: nginx workers, tftpd-hpa's forks), or the high-water mark (VmHWM) when the stack
 * is one process (Gatehouse), which also catches peaks between samples.
 */
export class GroupMemory {
  peakKb = 0;
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly group: CpuGroup) {}
  pids(): number[] {
    const file = this.group.procsFile;
    if (!file) return [];
    try {
      return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  }
  sample(): void {
    const pids = this.pids();
    if (pids.length === 1) {
      this.peakKb = Math.max(this.peakKb, kb(readProc(pids[0]!, 'status'), 'VmHWM'));
      return;
    }
    let pss = 0;
    for (const pid of pids) pss += kb(readProc(pid, 'smaps_rollup'), 'Pss');
    this.peakKb = Math.max(this.peakKb, pss);
  }
  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), 100);
  }
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.sample();
  }
}

export interface KernelCounters {
  udpRcvbufErrors: number;
  udpInErrors: number;
  listenOverflows: number;
  listenDrops: number;
}

function field(text: string, proto: string, name: string): number {
  return protoCounters(text, proto)[name] ?? Number.NaN;
}

/** /proc/net/snmp and /proc/net/netstat as seen from inside `ns` (the root namespace when undefined). */
export async function kernelCounters(ns: Netns | undefined): Promise<KernelCounters> {
  const read = async (file: string) =>
    ns ? (await ns.exec('cat', [file], { allowFail: true })).stdout : fs.readFileSync(file, 'utf8');
  const snmp = await read('/proc/net/snmp');
  const netstat = await read('/proc/net/netstat');
  return {
    udpRcvbufErrors: field(snmp, 'Udp', 'RcvbufErrors'),
    udpInErrors: field(snmp, 'Udp', 'InErrors'),
    listenOverflows: field(netstat, 'TcpExt', 'ListenOverflows'),
    listenDrops: field(netstat, 'TcpExt', 'ListenDrops'),
  };
}

/**
 * IP packets in and out of `ns` (/proc/net/snmp `Ip: InReceives, OutRequests`): the datagrams
 * and segments the server's kernel handled, for the per-packet arithmetic of the server's system
 * CPU. Replies sent on a packet socket (Gatehouse's DHCP) bypass IP and are not in OutRequests.
 */
export async function ipPackets(ns: Netns): Promise<{ in: number; out: number }> {
  const snmp = (await ns.exec('cat', ['/proc/net/snmp'], { allowFail: true })).stdout;
  return { in: field(snmp, 'Ip', 'InReceives'), out: field(snmp, 'Ip', 'OutRequests') };
}

export function countersDelta(a: KernelCounters, b: KernelCounters): KernelCounters {
  return {
    udpRcvbufErrors: b.udpRcvbufErrors - a.udpRcvbufErrors,
    udpInErrors: b.udpInErrors - a.udpInErrors,
    listenOverflows: b.listenOverflows - a.listenOverflows,
    listenDrops: b.listenDrops - a.listenDrops,
  };
}

/** Busy and total jiffies of all CPUs (the `cpu` line of /proc/stat). */
export function cpuJiffies(): { busy: number; total: number } {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.slice(0, 8).reduce((s, x) => s + x, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}

/** Percentage of the box busy between two samples. */
export function busyPct(a: { busy: number; total: number }, b: { busy: number; total: number }): number {
  const total = b.total - a.total;
  return total > 0 ? (100 * (b.busy - a.busy)) / total : Number.NaN;
}

/**
 * Receive drops per socket of `ns` (ss's skmem `d`), for the sockets that dropped anything:
 * tells a full DHCP raw socket from a TFTP listener or a socket nobody reads (UDP RcvbufErrors
 * counts them all together; raw sockets are not in it at all).
 */
export async function socketDrops(ns: Netns): Promise<string[]> {
  const text = (await ns.exec('ss', ['-Hanuwm'], { allowFail: true })).stdout.replace(
    /\n\s+skmem/g,
    ' skmem',
  );
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+\S+\s+\d+\s+\d+\s+(\S+)\s+\S+.*skmem:\([^)]*\bd(\d+)\)/.exec(line);
    if (m && Number(m[3]) > 0) out.push(`${m[1]} ${m[2]} dropped ${m[3]}`);
  }
  return out;
}
