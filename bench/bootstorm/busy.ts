/**
 * `--busy P`: keeps P % of the box busy during the storm, as other work on a shared gateway
 * would: one process per CPU, each spinning P ms of every 100 ms.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import os from 'node:os';

const BURNER = `
const share = Number(process.argv[1]) / 100;
setInterval(() => { const end = Date.now() + 100 * share; while (Date.now() < end); }, 100);
`;

export class CpuBurner {
  private readonly procs: ChildProcess[] = [];
  constructor(readonly percent: number) {}
  start(): void {
    if (!(this.percent > 0)) return;
    for (let i = 0; i < os.cpus().length; i++) {
      this.procs.push(
        spawn(process.execPath, ['-e', BURNER, String(Math.min(100, this.percent))], { stdio: 'ignore' }),
      );
    }
  }
  stop(): void {
    for (const p of this.procs) p.kill('SIGKILL');
    this.procs.length = 0;
  }
}
