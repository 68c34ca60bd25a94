import { type ChildProcess, spawn } from 'node:child_process';

export interface Daemon {
  proc: ChildProcess;
  output: string[];
  /** Resolves with the first output line (past or future) matching `re`. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

/** Runs a real peer in the foreground; every stdout/stderr line is kept and can be awaited. */
export function startDaemon(
  t: { teardown(fn: () => void | Promise<void>): void },
  cmd: string,
  args: string[],
): Daemon {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const waiters = new Set<{ re: RegExp; resolve: (l: string) => void }>();
  const onData = (() => {
    let buf = '';
    return (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        output.push(line);
        for (const w of waiters) {
          if (w.re.test(line)) {
            waiters.delete(w);
            w.resolve(line);
          }
        }
      }
    };
  })();
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const stop = () =>
    new Promise<void>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
      proc.once('exit', () => resolve());
      proc.kill('SIGTERM');
      setTimeout(() => proc.kill('SIGKILL'), 3000).unref();
    });
  t.teardown(stop);
  return {
    proc,
    output,
    stop,
    waitFor(re, timeoutMs = 15_000) {
      const found = output.find((l) => re.test(l));
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const w = { re, resolve };
        waiters.add(w);
        setTimeout(() => {
          if (waiters.delete(w))
            reject(
              new Error(
                `${cmd}: no line matching ${re} within ${timeoutMs} ms; output:\n${output.join('\n')}`,
              ),
            );
        }, timeoutMs).unref();
      });
    },
  };
}
