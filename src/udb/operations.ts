import { type OperationArgs, type OperationContext, registerOperation } from '../cli/operations.js';
import { NotFoundError, ValidationError } from '../errors.js';
import { type BatchRow, parseBatchFile } from './batch-file.js';
import { importRows } from './import-users.js';
import { parseJsonImport } from './json-file.js';
import { USER_GROUPS, type User, type UserGroup } from './model.js';
import { generatePassword, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from './password.js';
import { pythonTitle } from './title-case.js';
import { UserWriter, udbTables } from './users.js';
import { UDB_OPERATIONS } from './operation-names.js';
import { ReservedLogins, validateUser } from './validate.js';

/**
 * The UDB management commands of spec §7.6–7.8 as operations: they run inside the server when
 * one owns the data directory (its udbsync feed then sees every change), else on the store.
 * Arguments arrive as the CLI parsed them, or from any admin API caller, so each is checked
 * again here. Names are those of `src/cli/udb.ts`.
 */
export { UDB_OPERATIONS };

function flagBool(args: OperationArgs, name: string): boolean {
  const v = args.flags[name];
  if (v === undefined || v === false) return false;
  if (v === true) return true;
  throw new ValidationError(`--${name} takes no value`);
}

function flagText(args: OperationArgs, name: string): string | undefined {
  const v = args.flags[name];
  if (v === undefined || v === false) return undefined;
  if (typeof v !== 'string') throw new ValidationError(`--${name} needs a value`);
  return v;
}

/** `--type`: one of the groups that have a UID pool (the original failed later for others). */
export function groupFlag(args: OperationArgs): UserGroup {
  const v = flagText(args, 'type') ?? 'user';
  if (!(USER_GROUPS as readonly string[]).includes(v)) {
    throw new ValidationError(`--type must be one of ${USER_GROUPS.join(', ')} (got "${v}")`);
  }
  return v as UserGroup;
}

export function pwdlenFlag(args: OperationArgs): number {
  const v = flagText(args, 'pwdlen');
  if (v === undefined) return 8;
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || n < MIN_PASSWORD_LENGTH || n > MAX_PASSWORD_LENGTH) {
    throw new ValidationError(
      `--pwdlen must be an integer from ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} (got "${v}")`,
    );
  }
  return n;
}

function fileArg(args: OperationArgs, key: string, what: string): string {
  const text = args.files[key];
  if (typeof text !== 'string') throw new ValidationError(`Missing ${what}`);
  return text;
}

function reservedFor(ctx: OperationContext): ReservedLogins {
  return new ReservedLogins(ctx.config.udb);
}

/**
 * Parses a batchimport file and checks every row (login pattern, reserved names, lengths)
 * before anything is written: the operation refuses the whole file on any problem, and the
 * admin web page shows the same rows and problems as its preview.
 */
export function prepareBatchImport(
  text: string,
  opts: { logins: boolean; passwords: boolean },
  group: UserGroup,
  reserved: ReservedLogins,
): { rows: BatchRow[]; problems: string[] } {
  const parsed = parseBatchFile(text, { ...opts, isReserved: (l) => reserved.problem(l) !== undefined });
  const problems = [...parsed.problems];
  for (const row of parsed.rows) {
    try {
      validateUser(
        { ...row, password: row.password ?? 'generated', group, uid: 1, id: 1, shell: '/bin/bash', ssh_key: null },
        reserved,
      );
    } catch (e) {
      problems.push(`line ${row.line}: ${(e as Error).message}`);
    }
  }
  return { rows: parsed.rows, problems };
}

registerOperation({
  name: UDB_OPERATIONS.batchimport,
  async run(ctx, args, output) {
    const logins = flagBool(args, 'logins');
    const passwords = flagBool(args, 'passwords');
    if (passwords && !logins) {
      throw new ValidationError(
        '--passwords needs --logins: only a file of "login:password" lines can carry passwords',
      );
    }
    const group = groupFlag(args);
    const pwdlen = pwdlenFlag(args);
    const text = fileArg(args, 'file', '--file');
    const reserved = reservedFor(ctx);
    const { rows, problems } = prepareBatchImport(text, { logins, passwords }, group, reserved);
    if (problems.length > 0) {
      for (const p of problems) output.err(p);
      output.err(`batchimport: nothing imported; fix the ${problems.length} line(s) above and run it again`);
      return 1;
    }
    return importRows(
      rows,
      {
        group,
        pwdlen,
        update: flagBool(args, 'update'),
        ignore: flagBool(args, 'ignore'),
        batchSize: ctx.config.udb.importBatchSize,
      },
      { store: ctx.store, tables: udbTables(ctx.store), reserved, output },
    );
  },
});

registerOperation({
  name: UDB_OPERATIONS.pwdsheetdata,
  async run(ctx, args, output) {
    const group = flagText(args, 'type') ?? 'user';
    const tables = udbTables(ctx.store);
    const users = ctx.store
      .read((tx) => tx.values(tables.users))
      .filter((u) => u.group === group)
      .sort((a, b) => (a.login < b.login ? -1 : a.login > b.login ? 1 : 0));
    for (const u of users) output.out(`${u.firstname} ${u.lastname}\t${u.login}\t${u.password}`);
    return 0;
  },
});

registerOperation({
  name: UDB_OPERATIONS.jsonimport,
  async run(ctx, args, output) {
    const group = groupFlag(args);
    const pwdlen = pwdlenFlag(args);
    const items = parseJsonImport(fileArg(args, 'file', 'FILE (the JSON file to import)'));
    const tables = udbTables(ctx.store);
    const reserved = reservedFor(ctx);
    // One transaction for the whole file, like the original `transaction.atomic()`.
    const added = await ctx.store.write((tx) => {
      const writer = new UserWriter(tx, tables, reserved);
      const out: User[] = [];
      for (const item of items) {
        try {
          out.push(
            writer.create(
              {
                id: item.id,
                login: item.username,
                password: item.password ?? generatePassword(pwdlen),
                firstname: pythonTitle(item.first_name),
                lastname: pythonTitle(item.last_name),
                group,
              },
              { replaceSameId: true },
            ),
          );
        } catch (e) {
          throw new ValidationError(
            `item ${item.index} (id ${item.id}): ${(e as Error).message}; nothing was imported`,
          );
        }
      }
      return out;
    });
    output.progress(added.length, items.length, 'jsonimport');
    for (const u of added) {
      output.out(
        `Adding ${group} ${String(u.id).padStart(8)} ${u.login.padEnd(20)} ${u.lastname.padEnd(20)} ${u.firstname}`,
      );
    }
    output.out('All users added successfully.');
    return 0;
  },
});

registerOperation({
  name: UDB_OPERATIONS.usermod,
  async run(ctx, args, output) {
    const login = args.positionals[0];
    if (!login || args.positionals.length > 1)
      throw new ValidationError('usage: usermod LOGIN [--ssh-pubkey-file F] [--password P]');
    const password = flagText(args, 'password');
    const keyText = args.files['ssh-pubkey-file'];
    const tables = udbTables(ctx.store);
    const lines: string[] = [];
    await ctx.store.write((tx) => {
      const writer = new UserWriter(tx, tables, reservedFor(ctx));
      if (!writer.get(login))
        throw new NotFoundError(`no user with login ${login}; list them with gatehouse udb pwdsheetdata`);
      const patch: { ssh_key?: string; password?: string } = {};
      if (keyText !== undefined) {
        patch.ssh_key = keyText.trim();
        lines.push(`Set public ssh key of ${login} to ${patch.ssh_key}`);
      }
      if (password !== undefined) {
        patch.password = password;
        lines.push(`Changed password of ${login} to ${password}`);
      }
      // Saved even without a change: the original always re-saved, which broadcasts the user.
      writer.update(login, patch);
    });
    for (const l of lines) output.out(l);
    return 0;
  },
});
