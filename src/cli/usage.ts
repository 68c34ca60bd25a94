import type { CommandNode } from './args.js';
import type { CommandRun } from './io.js';

/** A command or subcommand as `gatehouse help` and `--help` show it. */
export interface CommandSpec extends CommandNode {
  /** Other spellings of the name (e.g. neighbors). */
  aliases?: readonly string[];
  /** One line: what it does. */
  summary: string;
  /** Arguments and options after the name, e.g. `FILE [--update]`. */
  args?: string;
  /** Options this command and every subcommand of it take, e.g. `[--config FILE] [--data DIR]`. */
  common?: string;
  /** Printed under the usage by --help. */
  notes?: string;
  subcommands?: readonly CommandSpec[];
  /** Loads the code of a top-level command; it receives the arguments after its name. */
  load?: () => Promise<CommandRun>;
}

/** `gatehouse mdb switch add --name N … [--config FILE] [--data DIR]` for the path mdb › switch › add. */
export function usageLine(path: readonly CommandSpec[]): string {
  const last = path.at(-1)!;
  const words = ['gatehouse', ...path.map((c) => c.name)];
  if (last.subcommands) words.push('<command>');
  if (last.args) words.push(last.args);
  for (const c of path) if (c.common) words.push(c.common);
  return words.join(' ');
}

/** What `--help` prints for the path: usage, what it does, and its subcommands if any. */
export function helpText(path: readonly CommandSpec[]): string {
  const last = path.at(-1)!;
  const lines = [`usage: ${usageLine(path)}`, '', last.summary];
  if (last.aliases?.length) lines.push(`also spelt: ${last.aliases.join(', ')}`);
  if (last.subcommands) {
    lines.push('', 'commands:');
    for (const s of last.subcommands) {
      lines.push(`  ${[s.name, s.args ?? (s.subcommands ? '<command> …' : '')].join(' ').trimEnd()}`);
      lines.push(`      ${s.summary}`);
    }
    lines.push('', `gatehouse ${path.map((c) => c.name).join(' ')} <command> --help shows one command.`);
  }
  if (last.notes) lines.push('', last.notes);
  return lines.join('\n');
}

/** The top-level listing: `gatehouse`, `gatehouse help`, `gatehouse --help`. */
export function commandList(commands: readonly CommandSpec[], version: string): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    `gatehouse ${version}`,
    '',
    'usage: gatehouse <command> [options]',
    '',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'gatehouse <command> --help (or -h, or help) shows the usage of a command and of its subcommands.',
  ].join('\n');
}
