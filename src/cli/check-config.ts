import { DEMO_SECRET_PREFIX } from '../config/secrets.js';
import { loadConfigFile } from '../config/index.js';
import { parseArgs, UsageError } from './args.js';
import type { CommandRun } from './io.js';

/** `gatehouse check-config FILE`: validates without starting; warns about demo secrets. */
export const checkConfig: CommandRun = async (argv, io) => {
  const args = parseArgs(argv, {});
  const file = args.positionals[0];
  if (!file) throw new UsageError('missing FILE');
  const config = loadConfigFile(file);
  const demo = Object.entries(config.secrets).filter(([, v]) => v.startsWith(DEMO_SECRET_PREFIX));
  for (const [k] of demo) io.err(`${file}: warning: secrets.${k} is the demo default; set a real secret`);
  io.out(`${file}: ok`);
  return 0;
};
