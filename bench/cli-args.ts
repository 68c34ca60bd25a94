/**
 * The value after `--name` on a bench's command line (`name` with or without its `--`), or `def`
 * when the flag is absent or last. Every bench reads its options this way.
 */
export function arg(name: string, def: string): string {
  const flag = name.startsWith('--') ? name : `--${name}`;
  const i = process.argv.indexOf(flag);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : def;
}
