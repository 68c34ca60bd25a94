import fs from 'node:fs';
import { type ParsedArgs, UsageError, parseArgs } from './args.js';
import { configSource } from './config-source.js';
import type { CliIo, CommandRun } from './io.js';
import { runOperationFrom } from './run-operation.js';

const COMMON = ['config', 'data'] as const;

function flagsOf(args: ParsedArgs): Record<string, string | boolean> {
  const out: Record<string, string | boolean> = {};
  for (const [k, v] of args.flags) if (!(COMMON as readonly string[]).includes(k)) out[k] = v;
  return out;
}

async function run(
  op: string,
  args: ParsedArgs,
  io: CliIo,
  files: Record<string, string> = {},
): Promise<number> {
  return runOperationFrom(
    op,
    { positionals: args.positionals, flags: flagsOf(args), files },
    configSource(args),
    io,
  );
}

/**
 * `gatehouse mdb …`: the original MDB management commands (spec §2.6) plus `set` and `import`,
 * run as operations (inside the server that owns the data directory, else on the store).
 * Usage: commands.ts.
 */
export const mdb: CommandRun = async (argv, io) => {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'addmachine':
      return run(
        'mdb-addmachine',
        parseArgs(rest, {
          values: [...COMMON, 'hostname', 'mac', 'aliases', 'rfs', 'hfs', 'mtype', 'room', 'ip'],
          booleans: ['update'],
        }),
        io,
      );
    case 'delmachine':
      return run('mdb-delmachine', parseArgs(rest, { values: COMMON }), io);
    case 'list':
      return run('mdb-list', parseArgs(rest, { values: COMMON, booleans: ['json'] }), io);
    case 'switch': {
      const [action, ...more] = rest;
      if (action !== 'add')
        throw new UsageError(action ? `unknown command "${action}"` : 'missing command');
      return run(
        'mdb-switch-add',
        parseArgs(more, { values: [...COMMON, 'name', 'chassis', 'room', 'rfs', 'hfs'] }),
        io,
      );
    }
    case 'set':
      return run('mdb-set', parseArgs(rest, { values: [...COMMON, 'type'] }), io);
    case 'import': {
      const args = parseArgs(rest, { values: COMMON, booleans: ['update'] });
      const file = args.positionals.shift();
      if (!file) throw new UsageError('missing FILE');
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch (e) {
        io.err(`gatehouse mdb import: cannot read ${file}: ${(e as Error).message}`);
        return 1;
      }
      return run('mdb-import', args, io, { input: text });
    }
    case undefined:
      throw new UsageError('missing command');
    default:
      throw new UsageError(`unknown command "${sub}"`);
  }
};
