/**
 * The leased addresses on the client interface: the planned ones are added in one `ip -batch`
 * before the storm (so adding them costs no machine any time), an unplanned one (a server that
 * handed out another address) on demand, batched with others that arrive meanwhile.
 */
import { spawn } from 'node:child_process';

function ipBatch(lines: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    // -force: go on after an error (an address already there), report at the end.
    const p = spawn('ip', ['-force', '-batch', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    p.on('error', reject);
    p.on('exit', (code) =>
      code === 0 || /File exists|already assigned|Cannot assign/.test(err)
        ? resolve()
        : reject(new Error(`ip -batch failed: ${err.slice(0, 500)}`)),
    );
    p.stdin.end(`${lines.join('\n')}\n`);
  });
}

export class InterfaceAddresses {
  private readonly present = new Set<string>();
  private queue: Array<{ ip: string; done: () => void }> = [];
  private running: Promise<void> | undefined;

  constructor(
    private readonly iface: string,
    private readonly prefixLen: number,
  ) {}

  async addAll(ips: readonly string[]): Promise<void> {
    const fresh = ips.filter((ip) => !this.present.has(ip));
    if (fresh.length === 0) return;
    await ipBatch(fresh.map((ip) => `address add ${ip}/${this.prefixLen} dev ${this.iface}`));
    for (const ip of fresh) this.present.add(ip);
  }

  ensure(ip: string): Promise<void> {
    if (this.present.has(ip)) return Promise.resolve();
    return new Promise((done) => {
      this.queue.push({ ip, done });
      if (!this.running) this.running = this.flush();
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      await this.addAll(batch.map((b) => b.ip)).catch(() => {});
      for (const b of batch) b.done();
    }
    this.running = undefined;
  }

  async removeAll(): Promise<void> {
    const all = [...this.present];
    this.present.clear();
    if (all.length)
      await ipBatch(all.map((ip) => `address del ${ip}/${this.prefixLen} dev ${this.iface}`)).catch(() => {});
  }
}
