import type { ChildProcess } from 'node:child_process';
import type { Netns } from './netns.js';

/** One packet tcpdump printed: `at` in Unix ms (the clock of Date.now()), `text` the rest of the line. */
export interface CapturedPacket {
  at: number;
  text: string;
}

export interface Capture {
  readonly packets: CapturedPacket[];
  /** Resolves once tcpdump listens (its "listening on" line): packets sent after are seen. */
  readonly ready: Promise<void>;
  stop(): void;
}

/**
 * tcpdump on `iface` in `ns` for the whole of a test. `direction: 'in'` keeps only what the
 * interface receives: on a bridge port, the frames that its namespace sent, which is how a test
 * tells which gateway sent a packet that carries a shared (floating) source address.
 */
export function capture(ns: Netns, iface: string, filter: string, direction?: 'in' | 'out'): Capture {
  // --immediate-mode: without it, libpcap hands packets over in blocks up to a second late.
  const args = [
    '-i',
    iface,
    '-n',
    '-l',
    '-tt',
    '--immediate-mode',
    ...(direction ? ['-Q', direction] : []),
    filter,
  ];
  const proc: ChildProcess = ns.spawn('tcpdump', args);
  const packets: CapturedPacket[] = [];
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const sp = line.indexOf(' ');
      const at = Number(line.slice(0, sp)) * 1000;
      if (sp > 0 && Number.isFinite(at)) packets.push({ at, text: line.slice(sp + 1) });
    }
  });
  const ready = new Promise<void>((resolve, reject) => {
    let err = '';
    proc.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('listening on')) resolve();
    });
    proc.once('exit', (code) => reject(new Error(`tcpdump on ${iface} exited (${code}): ${err}`)));
  });
  return { packets, ready, stop: () => proc.kill('SIGKILL') };
}
