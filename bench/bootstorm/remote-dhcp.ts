/** The storm's handle on dhcp-agent.ts: the same `dora()` as DhcpClient, over a pipe. */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { DhcpKind, DoraResult } from './dhcp-client.js';

const here = path.dirname(fileURLToPath(import.meta.url));

export interface Dora {
  dora(mac: string, kind: DhcpKind): Promise<DoraResult>;
}

export class RemoteDhcp implements Dora {
  private readonly proc: ChildProcess;
  private readonly waiting = new Map<number, (r: DoraResult) => void>();
  private nextId = 1;
  private readonly ready: Promise<void>;
  private statsSeen: (s: { strayReplies: number; sendErrors: number }) => void = () => {};
  readonly stats = new Promise<{ strayReplies: number; sendErrors: number }>((r) => {
    this.statsSeen = r;
  });

  /** In `netns` when given (a namespace without addresses), else here with zero checksums. */
  constructor(iface: string, netns: string | undefined) {
    const node = [
      process.execPath,
      '--import',
      'tsx',
      path.join(here, 'dhcp-agent.ts'),
      iface,
      ...(netns ? [] : ['--zero-checksum']),
    ];
    this.proc = netns
      ? spawn('ip', ['netns', 'exec', netns, ...node], { stdio: ['pipe', 'pipe', 'inherit'] })
      : spawn(node[0]!, node.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
    const rl = readline.createInterface({ input: this.proc.stdout! });
    this.ready = new Promise((resolve, reject) => {
      this.proc.once('exit', (code) => reject(new Error(`dhcp-agent exited (${code})`)));
      rl.on('line', (line) => {
        const m = JSON.parse(line) as {
          ready?: boolean;
          id?: number;
          result?: DoraResult;
          stats?: { strayReplies: number; sendErrors: number };
        };
        if (m.ready) resolve();
        else if (m.stats) this.statsSeen(m.stats);
        else if (m.id !== undefined && m.result) {
          this.waiting.get(m.id)?.(m.result);
          this.waiting.delete(m.id);
        }
      });
    });
  }

  open(): Promise<void> {
    return this.ready;
  }

  dora(mac: string, kind: DhcpKind): Promise<DoraResult> {
    return this.ask({ mac, kind });
  }

  /** DhcpClient.reboot: INIT-REBOOT REQUEST for `ip`. */
  reboot(mac: string, kind: DhcpKind, ip: string, once = false): Promise<DoraResult> {
    return this.ask({ mac, kind, reboot: ip, once });
  }

  private ask(req: { mac: string; kind: DhcpKind; reboot?: string; once?: boolean }): Promise<DoraResult> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.proc.stdin!.write(`${JSON.stringify({ id, ...req })}\n`);
    });
  }

  /** Closes the agent; resolves with its counters. */
  async close(): Promise<{ strayReplies: number; sendErrors: number }> {
    this.proc.stdin!.end();
    const timeout = new Promise<{ strayReplies: number; sendErrors: number }>((r) =>
      setTimeout(() => r({ strayReplies: -1, sendErrors: -1 }), 5000),
    );
    const s = await Promise.race([this.stats, timeout]);
    this.proc.kill('SIGKILL');
    return s;
  }
}
