import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import type { Netns } from '../helpers/netns.js';

/** The Debian `ipxe-qemu` PXE ROM of the e1000 NIC (legacy BIOS iPXE). */
export const E1000_ROM = '/usr/lib/ipxe/qemu/pxe-e1000.rom';

export interface QemuOptions {
  /** The namespace holding the tap device (the LAN bridge's namespace). */
  netns: Netns;
  tap: string;
  mac: string;
  /** Unix socket path of the human monitor. */
  monitor: string;
}

const KEY_NAMES: Record<string, string> = {
  '-': 'minus',
  '.': 'dot',
  ' ': 'spc',
  '\n': 'ret',
  '/': 'slash',
  _: 'shift-minus',
};

/** QEMU key names (`sendkey`) for a character: a–z, 0–9 and the few punctuation marks above. */
export function keyName(ch: string): string {
  if (/^[a-z0-9]$/.test(ch)) return ch;
  if (/^[A-Z]$/.test(ch)) return `shift-${ch.toLowerCase()}`;
  const k = KEY_NAMES[ch];
  if (!k) throw new Error(`no QEMU key for ${JSON.stringify(ch)}`);
  return k;
}

/**
 * A BIOS PC with an e1000 NIC that PXE-boots the Debian iPXE ROM (TCG, no KVM), network on a
 * tap device, screen on a virtual VGA nobody looks at, keyboard and power through the human
 * monitor on a Unix socket — how the e2e test plays the operator in front of a new machine.
 */
export class Qemu {
  private monitorSocket: net.Socket | undefined;
  private monitorOut = '';

  private constructor(
    readonly proc: ChildProcess,
    private readonly opts: QemuOptions,
  ) {}

  static async start(opts: QemuOptions): Promise<Qemu> {
    fs.rmSync(opts.monitor, { force: true });
    const proc = opts.netns.spawn('qemu-system-x86_64', [
      '-accel',
      'tcg',
      '-m',
      '256',
      '-display',
      'none',
      '-serial',
      'none',
      '-parallel',
      'none',
      '-boot',
      'n',
      '-netdev',
      `tap,id=n0,ifname=${opts.tap},script=no,downscript=no`,
      '-device',
      `e1000,netdev=n0,mac=${opts.mac},romfile=${E1000_ROM}`,
      '-monitor',
      `unix:${opts.monitor},server,nowait`,
    ]);
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const q = new Qemu(proc, opts);
    // The monitor socket appears once QEMU has parsed its arguments (a few ms, seconds on a busy box).
    const deadline = Date.now() + 20_000;
    while (!fs.existsSync(opts.monitor)) {
      if (proc.exitCode !== null) throw new Error(`qemu exited with ${proc.exitCode}: ${stderr.trim()}`);
      if (Date.now() > deadline) throw new Error(`qemu did not open its monitor socket: ${stderr.trim()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    await q.connectMonitor();
    return q;
  }

  private connectMonitor(): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = net.createConnection(this.opts.monitor, () => resolve());
      s.on('data', (d) => {
        this.monitorOut += d.toString();
      });
      s.on('error', reject);
      this.monitorSocket = s;
    });
  }

  /** Sends one monitor command and waits for the next `(qemu)` prompt. */
  async command(cmd: string, timeoutMs = 5000): Promise<string> {
    const s = this.monitorSocket;
    if (!s || s.destroyed) throw new Error('qemu monitor is not connected');
    const start = this.monitorOut.length;
    s.write(`${cmd}\n`);
    const deadline = Date.now() + timeoutMs;
    while (!this.monitorOut.slice(start).includes('(qemu)')) {
      if (Date.now() > deadline) throw new Error(`qemu monitor did not answer "${cmd}"`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.monitorOut.slice(start);
  }

  /** Presses one key (QEMU name: `ret`, `down`, `a`, `minus`…). */
  async key(name: string): Promise<void> {
    await this.command(`sendkey ${name}`);
    // Key repeat and the BIOS keyboard buffer: give iPXE time to read each key.
    await new Promise((r) => setTimeout(r, 120));
  }

  /** Types text like an operator (`\n` is Enter). */
  async type(text: string): Promise<void> {
    for (const ch of text) await this.key(keyName(ch));
  }

  /** Writes the VGA screen as a PPM file (for a human debugging a failed run). */
  async screendump(file: string): Promise<void> {
    await this.command(`screendump ${file}`);
  }

  /** Quits through the monitor, then makes sure the process is gone. */
  async stop(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
      try {
        this.monitorSocket?.write('quit\n');
      } catch {
        // the monitor is gone: kill below
      }
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    this.monitorSocket?.destroy();
  }
}
