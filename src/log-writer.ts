/**
 * Log lines to stderr in batches: the lines of one event-loop turn go out in one write(2)
 * instead of one each. stderr is a pipe or a socket to journald, written synchronously by
 * Node on Linux, and each write wakes the reader: a boot storm logs ~3 lines per machine
 * (DHCP summaries, one `tftp.transfer`, two `netboot.request`), i.e. thousands of writes in a
 * few seconds (bench/bootstorm/RESULTS.md "Where the server's CPU goes").
 *
 * Nothing is lost on the way out: pending lines are written before the process exits (the
 * `exit` event, which also follows an uncaught exception) and before Node prints an uncaught
 * exception, so they precede its stack trace as they did when every line was written at once.
 * Only a SIGKILL can lose them: at most one turn's lines.
 */
const MAX_PENDING_CHARS = 64 * 1024;

let pending: string[] = [];
let pendingChars = 0;
let scheduled = false;
let hooked = false;

/** Queues one line (without its newline) for stderr. */
export function writeLogLine(line: string): void {
  if (!hooked) hookExit();
  pending.push(line);
  pendingChars += line.length + 1;
  if (pendingChars >= MAX_PENDING_CHARS) flushLogLines();
  else if (!scheduled) {
    scheduled = true;
    setImmediate(onTurnEnd);
  }
}

/** Writes every queued line now. */
export function flushLogLines(): void {
  if (pending.length === 0) return;
  const text = `${pending.join('\n')}\n`;
  pending = [];
  pendingChars = 0;
  process.stderr.write(text);
}

function onTurnEnd(): void {
  scheduled = false;
  flushLogLines();
}

function hookExit(): void {
  hooked = true;
  process.on('exit', flushLogLines);
  process.on('uncaughtExceptionMonitor', flushLogLines);
}
