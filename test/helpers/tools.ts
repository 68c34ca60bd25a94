import { spawnSync } from 'node:child_process';

/** Whether `cmd` is on PATH (the real peers come from scripts/install-test-deps.sh). */
export function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v '${cmd.replace(/'/g, "'\\''")}'`], { stdio: 'ignore' }).status === 0;
}

/** A skip reason naming the commands that are missing, or false when all are there. */
export function missingCommands(cmds: readonly string[]): string | false {
  const missing = cmds.filter((c) => !hasCommand(c));
  return missing.length ? `missing ${missing.join(', ')} (scripts/install-test-deps.sh)` : false;
}
