import fs from 'node:fs';
import { ValidationError } from '../errors.js';
import type { UdbConfig } from './config.js';
import { USER_GROUPS, type User } from './model.js';

/** The original `User.LOGIN_REGEX` (spec §7.1): 1–31 characters, first a letter or `_`. */
export const LOGIN_PATTERN = /^[a-z_][a-z0-9_]{0,30}$/;
export const NAME_MAX = 64;
export const PASSWORD_MAX = 64;
export const SHELL_MAX = 64;
export const SSH_KEY_MAX = 4096;
export const DEFAULT_SHELL = '/bin/bash';

export function loginProblem(login: unknown): string | undefined {
  if (login === undefined || login === null) return 'is required';
  if (typeof login !== 'string') return 'must be a string';
  if (!LOGIN_PATTERN.test(login)) {
    return `"${login}" is not a valid login: use 1 to 31 characters of a-z, 0-9 and _, not starting with a digit`;
  }
  return undefined;
}

/**
 * Logins that must never be saved: the configured reserved list, and the accounts of a passwd
 * file with a system uid (0–999, 60000–65533), as the original `validate_unix_uid` did with
 * the UDB host's own accounts.
 */
export class ReservedLogins {
  private readonly reserved: Set<string>;
  private system: Map<string, number> | undefined;

  constructor(private readonly config: Pick<UdbConfig, 'reservedLogins' | 'systemAccountsFile'>) {
    this.reserved = new Set(config.reservedLogins.map((l) => l.toLowerCase()));
  }

  /** Why `login` cannot be used, or undefined when it can. */
  problem(login: string): string | undefined {
    const uid = this.systemAccounts().get(login);
    if (uid !== undefined) {
      return `Username ${login} is associated with uid ${uid}, which is likely a system-managed user.`;
    }
    if (this.reserved.has(login.toLowerCase())) {
      return `Username ${login} is reserved (udb.reservedLogins); choose another login.`;
    }
    return undefined;
  }

  private systemAccounts(): Map<string, number> {
    if (this.system) return this.system;
    this.system = new Map();
    const file = this.config.systemAccountsFile;
    if (!file) return this.system;
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      return this.system;
    }
    for (const line of text.split('\n')) {
      const [name, , uidText] = line.split(':');
      const uid = Number(uidText);
      if (!name || !Number.isInteger(uid)) continue;
      if ((uid >= 0 && uid < 1000) || (uid >= 60000 && uid <= 65533)) this.system.set(name, uid);
    }
    return this.system;
  }
}

function stringProblem(value: unknown, max: number, required: boolean): string | undefined {
  if (value === undefined || value === null) return 'is required';
  if (typeof value !== 'string') return 'must be a string';
  if (required && value.length === 0) return 'is required';
  if (value.length > max) return `must be at most ${max} characters (got ${value.length})`;
  return undefined;
}

/**
 * Checks a complete record before it is written (every save, like the original model save
 * plus the field validation its admin forms applied). Throws one ValidationError listing every
 * problem, with `details.fields` mapping field → messages.
 */
export function validateUser(user: User, reserved: ReservedLogins): void {
  const fields: Record<string, string[]> = {};
  const add = (field: string, problem: string | undefined) => {
    if (!problem) return;
    const list = fields[field] ?? [];
    list.push(problem);
    fields[field] = list;
  };
  const loginIssue = loginProblem(user.login);
  add('login', loginIssue);
  if (!loginIssue) add('login', reserved.problem(user.login));
  add('firstname', stringProblem(user.firstname, NAME_MAX, true));
  add('lastname', stringProblem(user.lastname, NAME_MAX, true));
  add('password', stringProblem(user.password, PASSWORD_MAX, true));
  add('shell', stringProblem(user.shell, SHELL_MAX, true));
  if (user.ssh_key !== null) add('ssh_key', stringProblem(user.ssh_key, SSH_KEY_MAX, false));
  if (!(USER_GROUPS as readonly unknown[]).includes(user.group)) {
    add('group', `must be one of ${USER_GROUPS.join(', ')} (got ${JSON.stringify(user.group)})`);
  }
  if (!Number.isSafeInteger(user.uid) || user.uid <= 0) add('uid', 'must be a positive integer');
  if (!Number.isSafeInteger(user.id) || user.id <= 0) add('id', 'must be a positive integer');
  const names = Object.keys(fields);
  if (names.length === 0) return;
  const what = typeof user.login === 'string' && user.login ? `user ${user.login}` : 'user';
  throw new ValidationError(
    `invalid ${what}: ${names.map((f) => `${f}: ${fields[f]!.join('; ')}`).join('; ')}`,
    {
      fields,
    },
  );
}
