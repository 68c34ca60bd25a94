#!/usr/bin/env node
import { errorMessage, isGatehouseError } from '../errors.js';
import { VERSION } from '../version.js';
import { UsageError } from './args.js';
import { commandGroups } from './commands.js';
import { type CliIo, processIo } from './io.js';

export async function runCli(argv: string[], io: CliIo = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    io.out(`gatehouse ${VERSION}\n\nusage: gatehouse <command> [options]\n`);
    for (const g of commandGroups) io.out(`  ${g.name.padEnd(14)} ${g.summary}`);
    return name ? 0 : 2;
  }
  if (name === 'version' || name === '--version') {
    io.out(VERSION);
    return 0;
  }
  const group = commandGroups.find((g) => g.name === name);
  if (!group) {
    io.err(`gatehouse: unknown command "${name}" (try: gatehouse help)`);
    return 2;
  }
  try {
    return await group.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`gatehouse ${name}: ${e.message}\n  ${group.summary}`);
      return 2;
    }
    io.err(isGatehouseError(e) ? `gatehouse ${name}: ${e.message} [${e.code}]` : `gatehouse ${name}: ${errorMessage(e)}`);
    return 1;
  }
}

const invokedDirectly = process.argv[1] && /cli[\\/]main\.(js|ts)$/.test(process.argv[1]);
if (invokedDirectly) {
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
