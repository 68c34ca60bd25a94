/** Where CLI commands write; tests capture it. */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

/** What a command does once loaded: `gatehouse <name> …` with the arguments after the name. */
export type CommandRun = (argv: string[], io: CliIo) => Promise<number>;

/**
 * The exit status of a command whose reader went away (`gatehouse mdb list | head -1`): what a
 * shell reports for a program killed by SIGPIPE (128 + 13), as `ls | head` shows under
 * `set -o pipefail`. Node ignores SIGPIPE, so the EPIPE arrives as a stream error instead.
 */
export const BROKEN_PIPE_STATUS = 141;

let pipesWatched = false;

/**
 * A write to a pipe whose reader has gone fails with EPIPE, reported as an 'error' event on
 * process.stdout / process.stderr; unhandled, it prints a stack trace. The reader going away is
 * not an error of the command: stop at once, quietly, as a program killed by SIGPIPE does.
 */
export function quietOnBrokenPipe(): void {
  if (pipesWatched) return;
  pipesWatched = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(BROKEN_PIPE_STATUS);
      throw e;
    });
  }
}

export const processIo: CliIo = {
  out: (line) => {
    quietOnBrokenPipe();
    process.stdout.write(line + '\n');
  },
  err: (line) => {
    quietOnBrokenPipe();
    process.stderr.write(line + '\n');
  },
};
