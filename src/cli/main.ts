#!/usr/bin/env -S node --no-memory-reducer
// The shebang's flag is src/runtime-flags.ts SERVE_NODE_FLAGS (why: there); `env -S` splits it.
import { errorMessage, isGatehouseError } from '../errors.js';
import { VERSION } from '../version.js';
import { UsageError, resolveCommand } from './args.js';
import { commands } from './commands.js';
import { type CliIo, processIo, quietOnBrokenPipe } from './io.js';
import { type CommandSpec, commandList, helpText, usageLine } from './usage.js';

/**
 * `gatehouse …`: finds the command in the declared table (commands.ts), answers `--help`, `-h`
 * and `help` from its declared usage, and only then loads and runs the command's code.
 */
export async function runCli(argv: string[], io: CliIo = processIo): Promise<number> {
  const { path, help } = resolveCommand(commands, argv);
  const top = path[0];
  if (!top) {
    if (argv.length === 0) {
      io.err(commandList(commands, VERSION));
      return 2;
    }
    if (help) {
      io.out(commandList(commands, VERSION));
      return 0;
    }
    if (argv[0] === '--version') {
      io.out(VERSION);
      return 0;
    }
    io.err(`gatehouse: unknown command "${argv[0]}" (try: gatehouse help)`);
    return 2;
  }
  if (top.name === 'help') return helpCommand(top, argv.slice(1), io);
  if (help) {
    io.out(helpText(path));
    return 0;
  }
  try {
    const run = await top.load!();
    return await run(argv.slice(1), io);
  } catch (e) {
    const name = path.map((c) => c.name).join(' ');
    if (e instanceof UsageError) {
      io.err(`gatehouse ${name}: ${e.message}`);
      io.err(path.at(-1)!.subcommands ? helpText(path) : `usage: ${usageLine(path)}`);
      return 2;
    }
    io.err(
      isGatehouseError(e)
        ? `gatehouse ${name}: ${e.message} [${e.code}]`
        : `gatehouse ${name}: ${errorMessage(e)}`,
    );
    return 1;
  }
}

/** `gatehouse help [COMMAND [SUBCOMMAND]]`. */
function helpCommand(self: CommandSpec, argv: string[], io: CliIo): number {
  const topic = resolveCommand(commands, argv);
  if (topic.path.length > 0) io.out(helpText(topic.path));
  else if (topic.help) io.out(helpText([self]));
  else if (argv.length > 0) {
    io.err(`gatehouse help: no command "${argv[0]}"`);
    io.err(commandList(commands, VERSION));
    return 2;
  } else io.out(commandList(commands, VERSION));
  return 0;
}

const invokedDirectly = process.argv[1] && /cli[\\/]main\.(js|ts)$/.test(process.argv[1]);
if (invokedDirectly) {
  // Before anything runs: log lines of long-running commands go to stderr without processIo.
  quietOnBrokenPipe();
  runCli(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`gatehouse: ${errorMessage(e)}\n`);
      process.exitCode = 1;
    },
  );
}
