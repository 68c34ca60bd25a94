import fs from 'node:fs';
import { errorMessage, ValidationError } from '../errors.js';
import { UDB_OPERATIONS } from '../udb/operation-names.js';
import { flagString, type ParsedArgs, parseArgs, UsageError } from './args.js';
import { configSource } from './config-source.js';
import type { CommandRun } from './io.js';
import type { OperationArgs } from './operations.js';
import { runOperationFrom } from './run-operation.js';

const COMMON = ['config', 'data'] as const;

interface Subcommand {
  values: readonly string[];
  booleans: readonly string[];
  /** Builds the operation's arguments; reads local files here, on the caller's side. */
  build(args: ParsedArgs): OperationArgs;
  operation: string;
}

function readLocal(path: string, what: string): string {
  try {
    return fs.readFileSync(path, 'utf8');
  } catch (e) {
    throw new ValidationError(`cannot read ${what} ${path}: ${errorMessage(e)}`);
  }
}

/** Flags of the operation: everything but --config/--data and files already read. */
function opFlags(args: ParsedArgs, drop: readonly string[] = []): Record<string, string | boolean> {
  const out: Record<string, string | boolean> = {};
  for (const [k, v] of args.flags)
    if (!COMMON.includes(k as (typeof COMMON)[number]) && !drop.includes(k)) out[k] = v;
  return out;
}

const SUBCOMMANDS: Record<string, Subcommand> = {
  batchimport: {
    values: ['file', 'type', 'pwdlen'],
    booleans: ['logins', 'passwords', 'update', 'ignore'],
    operation: UDB_OPERATIONS.batchimport,
    build(args) {
      const file = flagString(args, 'file');
      if (!file) throw new UsageError('Missing --file');
      if (args.flags.has('passwords') && !args.flags.has('logins')) {
        throw new UsageError(
          '--passwords needs --logins: only a file of "login:password" lines can carry passwords',
        );
      }
      if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${args.positionals[0]}`);
      return { positionals: [], flags: opFlags(args, ['file']), files: { file: readLocal(file, 'file') } };
    },
  },
  pwdsheetdata: {
    values: ['type'],
    booleans: [],
    operation: UDB_OPERATIONS.pwdsheetdata,
    build(args) {
      if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${args.positionals[0]}`);
      return { positionals: [], flags: opFlags(args), files: {} };
    },
  },
  jsonimport: {
    values: ['type', 'pwdlen'],
    booleans: [],
    operation: UDB_OPERATIONS.jsonimport,
    build(args) {
      if (args.positionals.length !== 1) throw new UsageError('give exactly one FILE to import');
      return {
        positionals: [],
        flags: opFlags(args),
        files: { file: readLocal(args.positionals[0]!, 'file') },
      };
    },
  },
  usermod: {
    values: ['ssh-pubkey-file', 'password'],
    booleans: [],
    operation: UDB_OPERATIONS.usermod,
    build(args) {
      if (args.positionals.length !== 1) throw new UsageError('give exactly one LOGIN');
      const keyFile = flagString(args, 'ssh-pubkey-file');
      const files: Record<string, string> = {};
      if (keyFile) files['ssh-pubkey-file'] = readLocal(keyFile, 'public key file');
      return { positionals: args.positionals, flags: opFlags(args, ['ssh-pubkey-file']), files };
    },
  },
};

/**
 * `gatehouse udb …`: the original UDB management commands (spec §7.6–7.8) with their flags
 * and output. Mutations go through the running server when one owns the data directory.
 * Usage: commands.ts.
 */
export const udb: CommandRun = async (argv, io) => {
  const [name, ...rest] = argv;
  if (!name) throw new UsageError('missing command');
  if (!Object.hasOwn(SUBCOMMANDS, name)) throw new UsageError(`unknown command "${name}"`);
  const sub = SUBCOMMANDS[name]!;
  const args = parseArgs(rest, { values: [...COMMON, ...sub.values], booleans: sub.booleans });
  return runOperationFrom(sub.operation, sub.build(args), configSource(args), io);
};
