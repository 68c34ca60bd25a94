/**
 * Resident memory of a process tree (the Gatehouse main process and its DNS workers), read from
 * /proc once a second. RSS counts the shared Node binary once per process (what `ps` and the
 * issue report); PSS shares it out (what the tree really costs), sampled less often.
 */
import { childrenOf, kb, readProc } from '../tftp/procs.js';

export interface RssSample {
  /** Seconds since the sampler started. */
  t: number;
  /** Summed VmRSS of the tree, kB. */
  rssKb: number;
  /** VmRSS per process, kB (main first). */
  perProcessKb: number[];
  /** Summed PSS, kB (every 10th sample; undefined otherwise). */
  pssKb?: number;
}

export class TreeRssSampler {
  readonly samples: RssSample[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly t0 = Date.now();

  constructor(private readonly pid: number) {
    this.sample();
    this.timer = setInterval(() => this.sample(), 1000);
  }

  /** The tree: the process and its children (cluster workers; TFTP workers are threads). */
  pids(): number[] {
    return [this.pid, ...childrenOf(this.pid)];
  }

  private sample(): void {
    const pids = this.pids();
    const perProcessKb = pids.map((p) => kb(readProc(p, 'status'), 'VmRSS'));
    const s: RssSample = {
      t: (Date.now() - this.t0) / 1000,
      rssKb: perProcessKb.reduce((a, b) => a + b, 0),
      perProcessKb,
    };
    if (this.samples.length % 10 === 0)
      s.pssKb = pids.reduce((a, p) => a + kb(readProc(p, 'smaps_rollup'), 'Pss'), 0);
    this.samples.push(s);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** The sample closest to `t` seconds. */
  at(t: number): RssSample {
    return this.samples.reduce((best, s) => (Math.abs(s.t - t) < Math.abs(best.t - t) ? s : best));
  }

  peak(from = 0): RssSample {
    return this.samples
      .filter((s) => s.t >= from)
      .reduce((best, s) => (s.rssKb > best.rssKb ? s : best), this.samples[0]!);
  }
}
