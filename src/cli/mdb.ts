import fs from 'node:fs';
import { type ParsedArgs, UsageError, flagString, parseArgs } from './args.js';
import type { CliIo, CommandGroup } from './io.js';
import { runOperation } from './run-operation.js';
import { resolveConfig } from './serve.js';
import '../mdb/operations.js';

const USAGE = `gatehouse mdb <command> [--config FILE] [--data DIR]
  addmachine --hostname H --mac M --aliases A --rfs N --hfs N --mtype T --room R [--ip IP] [--update]
  delmachine HOSTNAME
  list [--json] [FIELD=VALUE | FIELD__LOOKUP=VALUE ...]
  switch add --name N --chassis C [--room R] [--rfs N] [--hfs N]
  set KEY VALUE [--type bool|int|str]          e.g. set allow_self_registration false
  import FILE [--update]                       JSON array (or JSON lines) of machine records`;

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
  const config = resolveConfig(flagString(args, 'config'), flagString(args, 'data'));
  return runOperation(op, { positionals: args.positionals, flags: flagsOf(args), files }, config, io);
}

/** `gatehouse mdb …`: the original MDB management commands (spec §2.6) plus `set` and `import`. */
export const mdbCommand: CommandGroup = {
  name: 'mdb',
  summary:
    'machine database: gatehouse mdb addmachine|delmachine|list|switch add|set|import (gatehouse mdb help)',
  async run(argv, io) {
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
          throw new UsageError(
            'usage: gatehouse mdb switch add --name N --chassis C [--room R] [--rfs N] [--hfs N]',
          );
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
        if (!file) throw new UsageError('usage: gatehouse mdb import FILE [--update]');
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
      case 'help':
      case '--help':
        io.out(USAGE);
        return sub === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown mdb command "${sub}"\n${USAGE}`);
    }
  },
};
