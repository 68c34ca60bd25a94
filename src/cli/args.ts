/**
 * A small argument parser: `--flag`, `--key value`, `--key=value`, positionals. Each command
 * declares which flags take a value; unknown flags are errors naming the command's usage.
 */
export interface ParsedArgs {
  positionals: string[];
  flags: Map<string, string | true>;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function parseArgs(
  argv: readonly string[],
  spec: { values?: readonly string[]; booleans?: readonly string[] },
): ParsedArgs {
  const values = new Set(spec.values ?? []);
  const booleans = new Set(spec.booleans ?? []);
  const out: ParsedArgs = { positionals: [], flags: new Map() };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('--')) {
      out.positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq === -1 ? undefined : eq);
    if (values.has(name)) {
      if (eq !== -1) out.flags.set(name, a.slice(eq + 1));
      else {
        const v = argv[i + 1];
        if (v === undefined) throw new UsageError(`--${name} needs a value`);
        out.flags.set(name, v);
        i++;
      }
    } else if (booleans.has(name)) {
      if (eq !== -1) throw new UsageError(`--${name} takes no value`);
      out.flags.set(name, true);
    } else {
      throw new UsageError(`unknown option --${name}`);
    }
  }
  return out;
}

export function flagString(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

/** A node of the declared command tree, as far as finding a command in argv needs. */
export interface CommandNode {
  name: string;
  aliases?: readonly string[];
  subcommands?: readonly CommandNode[];
}

export interface ResolvedCommand<T extends CommandNode> {
  /** The commands named in argv, outermost first (empty when the first word names none). */
  path: T[];
  /** `--help` or `-h` anywhere before `--`, or `help` right after a command's name. */
  help: boolean;
}

const HELP_FLAGS = new Set(['--help', '-h']);

/**
 * Finds which command and subcommand argv names and whether it asks for help, from the
 * declared tree alone, before any command's code is loaded. Options may come first
 * (`gatehouse fw --data D status`); a word descends only where it names a subcommand of the
 * command reached so far. `help` counts only as the word right after a command's name (a
 * login or host called "help" can be passed after `--`); a command named `help` is that command.
 */
export function resolveCommand<T extends CommandNode>(
  commands: readonly T[],
  argv: readonly string[],
): ResolvedCommand<T> {
  const path: T[] = [];
  let help = false;
  let children: readonly CommandNode[] | undefined = commands;
  let afterName = true;
  for (const word of argv) {
    if (word === '--') break;
    const next: CommandNode | undefined = children?.find((c) => c.name === word || c.aliases?.includes(word));
    if (next) {
      path.push(next as T);
      children = next.subcommands;
      afterName = true;
    } else if (HELP_FLAGS.has(word) || (afterName && word === 'help')) {
      help = true;
      afterName = false;
    } else {
      afterName = false;
      if (path.length === 0) break;
    }
  }
  return { path, help };
}
