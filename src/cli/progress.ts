import type { CliIo } from './io.js';

/** Progress of a long operation on stderr, one line per whole percent. */
export function progressPrinter(io: CliIo): (done: number, total: number, what: string) => void {
  let lastPct = -1;
  return (done, total, what) => {
    const pct = total > 0 ? Math.floor((done * 100) / total) : 100;
    if (pct === lastPct && done !== total) return;
    lastPct = pct;
    io.err(`${what}: ${done}/${total} (${pct}%)`);
  };
}
