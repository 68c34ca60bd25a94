/**
 * Login derivation of `batchimport` (spec §7.6). Pure functions: no store, no clock.
 */

/**
 * ASCII folding of the original: NFKD, then every non-ASCII code point dropped, then
 * lowercased (`Élodie` → `elodie`, `Çaglar` → `caglar`, `ß` vanishes).
 */
export function asciiFold(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[^\x00-\x7f]/gu, '')
    .toLowerCase();
}

/** Letters of the last name kept in a derived login (`jp` + `delafontai`). */
export const LASTNAME_LETTERS = 10;

/**
 * The login of a person: the first letter of every word of the folded first name (words are
 * split on anything outside `a-z`), then at most ten `a-z` letters of the folded last name.
 * `Jean-Pierre` / `De La Fontaine-Dupont` → `jpdelafontai`; `marie claire` / `o'neil` →
 * `mconeil`. May be empty or too long for the login pattern: callers validate.
 */
export function deriveLogin(firstname: string, lastname: string): string {
  const initials = asciiFold(firstname)
    .split(/[^a-z]+/)
    .filter((part) => part.length > 0)
    .map((part) => part[0])
    .join('');
  const tail = asciiFold(lastname)
    .replace(/[^a-z]/g, '')
    .slice(0, LASTNAME_LETTERS);
  return initials + tail;
}

/** Logins batchimport never hands out, even when derived (`R`/`Oot` → `root1`). */
export const DERIVED_LOGIN_DENY_LIST: readonly string[] = ['root'];

/**
 * De-duplication within one imported file: a taken login gets the first free `<login>N`,
 * N = 1, 2, …, always built on the un-suffixed login. Users already in the database are not
 * considered (the original did not either: they are then reported as existing).
 */
export class LoginAllocator {
  private readonly taken: Set<string>;
  /**
   * Highest suffix known taken per base. Suffixes are never released, so every `<base>K` with
   * K up to it is taken: starting there returns the same first free login as counting from 1,
   * without the quadratic walk when thousands of people share a base (`pnom`, `pnom1`, …).
   */
  private readonly lastSuffix = new Map<string, number>();

  /**
   * `reserved` adds logins that are never handed out either (the appliance's reserved and
   * system logins): a derived `bin` becomes `bin1` instead of failing the whole import.
   */
  constructor(
    denied: Iterable<string> = DERIVED_LOGIN_DENY_LIST,
    private readonly reserved: (login: string) => boolean = () => false,
  ) {
    this.taken = new Set(denied);
  }

  private unavailable(login: string): boolean {
    return this.taken.has(login) || this.reserved(login);
  }

  allocate(base: string): string {
    if (!this.unavailable(base)) {
      this.taken.add(base);
      return base;
    }
    let n = (this.lastSuffix.get(base) ?? 0) + 1;
    while (this.unavailable(`${base}${n}`)) n++;
    const login = `${base}${n}`;
    this.lastSuffix.set(base, n);
    this.taken.add(login);
    return login;
  }
}
