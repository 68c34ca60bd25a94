import { asciiFold, deriveLogin, LoginAllocator } from './login.js';
import { pythonTitle } from './title-case.js';

/** One user to import, as read from a batchimport file (spec §7.6). */
export interface BatchRow {
  /** 1-based line number in the file, for error messages. */
  line: number;
  login: string;
  firstname: string;
  lastname: string;
  /** From the file with `--passwords`; generated at import time otherwise. */
  password?: string;
}

export interface BatchFileOptions {
  /** The file holds logins (`--logins`) instead of `first<TAB>last` names. */
  logins: boolean;
  /** Each line ends with `:password` (`--passwords`, only with `--logins`). */
  passwords: boolean;
  /** Logins a derived login must avoid besides `root` (reserved and system accounts). */
  isReserved?: (login: string) => boolean;
}

export interface ParsedBatchFile {
  rows: BatchRow[];
  /** `line N: reason` for every line that cannot be imported. */
  problems: string[];
}

/**
 * Parses a batchimport file. The file is split on `\n` and blank lines are skipped (a line of
 * spaces or a lone `\r` counts as blank, where the original would have crashed). Names mode:
 * `first<TAB>last`, both trimmed, names stored title-cased, login derived and de-duplicated
 * within the file. Logins mode: the trimmed line (or its part before `:` with passwords) folded
 * to ASCII is the login and, title-cased, both names; no de-duplication. Login validity is
 * checked by the caller (it also depends on the reserved list).
 */
export function parseBatchFile(text: string, opts: BatchFileOptions): ParsedBatchFile {
  const rows: BatchRow[] = [];
  const problems: string[] = [];
  const allocator = new LoginAllocator(undefined, opts.isReserved);
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    if (raw.trim() === '') continue;
    const line = i + 1;
    if (opts.logins) {
      const trimmed = raw.trim();
      let name = trimmed;
      let password: string | undefined;
      if (opts.passwords) {
        const parts = trimmed.split(':');
        if (parts.length !== 2) {
          problems.push(
            `line ${line}: expected "login:password" (exactly one ":"), got ${JSON.stringify(trimmed)}`,
          );
          continue;
        }
        name = parts[0]!.trim();
        password = parts[1]!;
      }
      const login = asciiFold(name);
      const title = pythonTitle(login);
      rows.push({
        line,
        login,
        firstname: title,
        lastname: title,
        ...(password !== undefined ? { password } : {}),
      });
      continue;
    }
    const fields = raw.split('\t').map((f) => f.trim());
    if (fields.length !== 2) {
      problems.push(
        `line ${line}: expected "first name<TAB>last name" (exactly one tab), got ${fields.length} field(s) in ${JSON.stringify(raw)}`,
      );
      continue;
    }
    const [first, last] = fields as [string, string];
    rows.push({
      line,
      login: allocator.allocate(deriveLogin(first, last)),
      firstname: pythonTitle(first),
      lastname: pythonTitle(last),
    });
  }
  return { rows, problems };
}
