import type { OperationOutput } from '../cli/operations.js';
import type { Store } from '../store/index.js';
import type { BatchRow } from './batch-file.js';
import type { UserGroup } from './model.js';
import { generatePassword } from './password.js';
import { type UdbTables, UserWriter } from './users.js';
import type { ReservedLogins } from './validate.js';

export interface ImportPolicy {
  group: UserGroup;
  pwdlen: number;
  /** `--update`: existing users get the new names, group and a new password. */
  update: boolean;
  /** `--ignore`: existing users are left alone (and re-saved, as the original did). */
  ignore: boolean;
  batchSize: number;
}

export interface ImportDeps {
  store: Store;
  tables: UdbTables;
  reserved: ReservedLogins;
  output: OperationOutput;
  newPassword?: (length: number) => string;
}

/**
 * Writes batchimport rows in transactions of `batchSize` rows, printing each row's line after
 * its transaction committed. An existing user without `--update`/`--ignore` stops the import
 * with the original message; the rows before it stay imported, as in the original.
 * Returns the exit status.
 */
export async function importRows(
  rows: readonly BatchRow[],
  policy: ImportPolicy,
  deps: ImportDeps,
): Promise<number> {
  const newPassword = deps.newPassword ?? ((n: number) => generatePassword(n));
  let done = 0;
  deps.output.progress(0, rows.length, 'batchimport');
  for (let start = 0; start < rows.length; start += policy.batchSize) {
    const batch = rows.slice(start, start + policy.batchSize);
    const result = await deps.store.write((tx) => {
      const writer = new UserWriter(tx, deps.tables, deps.reserved);
      const lines: string[] = [];
      for (const row of batch) {
        const existing = writer.get(row.login);
        if (!existing) {
          const u = writer.create({
            login: row.login,
            firstname: row.firstname,
            lastname: row.lastname,
            group: policy.group,
            password: row.password ?? newPassword(policy.pwdlen),
          });
          lines.push(`Added user ${u.firstname} ${u.lastname} (login: ${u.login})`);
        } else if (policy.update) {
          const u = writer.update(row.login, {
            firstname: row.firstname,
            lastname: row.lastname,
            group: policy.group,
            password: row.password ?? newPassword(policy.pwdlen),
          });
          lines.push(`Updated user ${u.firstname} ${u.lastname} (login: ${u.login})`);
        } else if (policy.ignore) {
          writer.touch(row.login);
          lines.push(`(Ignored user ${existing.firstname} ${existing.lastname} (login: ${existing.login}))`);
        } else {
          return {
            lines,
            abort: `User ${existing.firstname} ${existing.lastname} (login: ${existing.login}) already in database. Use --update to update it, or --ignore.`,
          };
        }
      }
      return { lines, abort: undefined };
    });
    for (const line of result.lines) deps.output.out(line);
    done += result.lines.length;
    deps.output.progress(done, rows.length, 'batchimport');
    if (result.abort) {
      deps.output.err(result.abort);
      return 1;
    }
  }
  return 0;
}
