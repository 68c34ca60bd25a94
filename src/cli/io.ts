/** Where CLI commands write; tests capture it. */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

export const processIo: CliIo = {
  out: (line) => process.stdout.write(line + '\n'),
  err: (line) => process.stderr.write(line + '\n'),
};

/** A command group: `gatehouse <name> …`. Returns the exit status. */
export interface CommandGroup {
  name: string;
  summary: string;
  run(argv: string[], io: CliIo): Promise<number>;
}
