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

export function parseArgs(argv: readonly string[], spec: { values?: readonly string[]; booleans?: readonly string[] }): ParsedArgs {
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
