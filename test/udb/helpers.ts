import fs from 'node:fs';
import path from 'node:path';
import { runCli } from '../../src/cli/main.js';
import { allMigrations } from '../../src/migrations.js';
import { Store } from '../../src/store/index.js';
import type { User } from '../../src/udb/model.js';
import { listUsers, udbTables } from '../../src/udb/users.js';
import { tempDir } from '../helpers/tmp.js';

export interface CliRun {
  code: number;
  out: string[];
  err: string[];
}

/** Runs `gatehouse …` in-process with captured output. */
export async function cli(argv: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

/** Writes `text` to a file in a fresh temp dir and returns its path. */
export function fileWith(t: { teardown(fn: () => void): void }, name: string, text: string): string {
  const p = path.join(tempDir(t, 'gatehouse-udb-in-'), name);
  fs.writeFileSync(p, text);
  return p;
}

/** Every user of a (stopped) data directory, in the original order. */
export async function usersIn(dataDir: string): Promise<User[]> {
  const store = await Store.open({ dir: dataDir, migrations: allMigrations });
  try {
    const tables = udbTables(store);
    return store.read((tx) => listUsers(tx, tables));
  } finally {
    await store.close();
  }
}

export function byLogin(users: readonly User[]): Map<string, User> {
  return new Map(users.map((u) => [u.login, u]));
}

export const PASSWORD_RULES = /^(?=.*[A-Z])(?=.*[0-9])[ACEFHJKLMNPRTUVWXYa-km-z3479]+$/;

import type { GatehouseConfigInput } from '../../src/config/index.js';
import { serviceFactories } from '../../src/services.js';
import { type UdbService, udbServiceFactory } from '../../src/udb/service.js';
import { startGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';

/** Test secrets of §18's conventions. */
export const SECRETS = { udbClientAuth: 'UDBAUTH', udbsyncPub: 'PUB', udbsyncSub: 'SUB' } as const;

/** An in-process appliance with UDB (registered in src/services.ts, or added here if not yet). */
export async function startUdb(
  t: { teardown(fn: () => void | Promise<void>): void },
  overrides: GatehouseConfigInput = {},
): Promise<TestGatehouse & { udb: UdbService }> {
  const extra = serviceFactories.includes(udbServiceFactory) ? [] : [udbServiceFactory];
  const gh = await startGatehouse(t, { ...overrides, secrets: { ...SECRETS, ...overrides.secrets } }, extra);
  const udb = gh.app.service<UdbService>('udb');
  if (!udb) throw new Error('the udb service did not start');
  return { ...gh, udb };
}
