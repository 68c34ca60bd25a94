import { pyRepr, pyStr } from '../rpc/pyrepr.js';
import { MdbError } from './errors.js';

/**
 * The Django ORM lookups MDB's `query(**filters)` and `switches(**filters)` accept (spec §2.4):
 * `field` (exact) or `field__<lookup>` with lookup in exact, iexact, contains, icontains,
 * startswith, istartswith, endswith, iendswith, in, regex, iregex, gt, gte, lt, lte, isnull.
 * Filters are AND-ed. A key whose part before the first `_` is not an allowed field gets the
 * original `ValueError`; the rest follow Django's errors (FieldError for unknown fields or
 * lookups, ValueError for a non-integer value on an integer field).
 */
export type LookupFieldKind = 'char' | 'int' | 'ip' | 'bool';

export interface LookupModel {
  /** Prefixes accepted by `check_filter_fields`. */
  allowed: readonly string[];
  /** Every model field (Django resolves any of them once the prefix check passed). */
  fields: Record<string, LookupFieldKind>;
}

export type Predicate<T> = (record: T) => boolean;

const LOOKUPS = new Set([
  'exact',
  'iexact',
  'contains',
  'icontains',
  'startswith',
  'istartswith',
  'endswith',
  'iendswith',
  'in',
  'regex',
  'iregex',
  'gt',
  'gte',
  'lt',
  'lte',
  'isnull',
]);

const DJANGO_CLASS: Record<LookupFieldKind, string> = {
  char: 'CharField',
  int: 'IntegerField',
  ip: 'GenericIPAddressField',
  bool: 'BooleanField',
};

function badQuery(exnType: string, message: string): MdbError {
  return new MdbError('GH_MDB_BAD_QUERY', exnType, message, 400);
}

/** `check_filter_fields`: the part of each key before the first `_` must be allowed. */
export function checkFilterFields(allowed: readonly string[], filters: Record<string, unknown>): void {
  for (const key of Object.keys(filters)) {
    if (!allowed.includes(key.split('_')[0]!))
      throw badQuery('ValueError', `'${key}' is not a valid query argument`);
  }
}

function prepInt(field: string, v: unknown): number {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
  if (typeof v === 'string' && /^\s*[+-]?\d+(?:_\d+)*\s*$/.test(v))
    return Number(v.trim().replaceAll('_', ''));
  throw badQuery(
    typeof v === 'string' || typeof v === 'number' ? 'ValueError' : 'TypeError',
    `Field '${field}' expected a number but got ${pyRepr(v)}.`,
  );
}

function prep(kind: LookupFieldKind, field: string, v: unknown): string | number | boolean {
  switch (kind) {
    case 'int':
      return prepInt(field, v);
    case 'bool':
      return v === true || v === 1 || v === 'True' || v === 'true' || v === '1';
    default:
      return pyStr(v);
  }
}

/** Text of a stored value as SQL would cast it for LIKE/regex lookups. */
function asText(v: unknown): string {
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return v === null || v === undefined ? '' : String(v);
}

/**
 * Refuses patterns that can backtrack exponentially (a quantified group that itself contains
 * a quantifier, or back-references): a query is served on the event loop, and one
 * catastrophic regex from a LAN client must not stall every other service.
 */
export function checkRegexSafety(pattern: string): string | undefined {
  if (pattern.length > 256) return 'pattern longer than 256 characters';
  if (/\\[1-9]|\\k</.test(pattern)) return 'back-references are not supported';
  const stack: boolean[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end > 0) i = end;
      continue;
    }
    if (c === '(') stack.push(false);
    else if (c === ')') {
      const inner = stack.pop() ?? false;
      const next = pattern[i + 1];
      const quantified = next === '*' || next === '+' || next === '{';
      if (quantified && inner) return 'nested quantifiers are not supported';
      if (stack.length > 0 && (inner || quantified)) stack[stack.length - 1] = true;
    } else if ((c === '*' || c === '+' || c === '{') && stack.length > 0) {
      stack[stack.length - 1] = true;
    }
  }
  return undefined;
}

function compileRegex(pattern: string, flags: string): RegExp {
  const unsafe = checkRegexSafety(pattern);
  if (unsafe) throw badQuery('DataError', `invalid regular expression: ${unsafe}`);
  try {
    return new RegExp(pattern, flags);
  } catch (e) {
    throw badQuery('DataError', `invalid regular expression: ${(e as Error).message}`);
  }
}

function compileOne<T extends Record<string, unknown>>(
  model: LookupModel,
  key: string,
  value: unknown,
): Predicate<T> {
  const [field, ...rest] = key.split('__');
  const kind = Object.hasOwn(model.fields, field!) ? model.fields[field!] : undefined;
  if (!kind) {
    throw badQuery(
      'FieldError',
      `Cannot resolve keyword '${field}' into field. Choices are: ${Object.keys(model.fields).sort().join(', ')}`,
    );
  }
  if (rest.length > 1 || (rest.length === 1 && !LOOKUPS.has(rest[0]!))) {
    throw badQuery(
      'FieldError',
      `Unsupported lookup '${rest.join('__')}' for ${DJANGO_CLASS[kind]} or join on the field not permitted.`,
    );
  }
  const op = rest[0] ?? 'exact';
  const get = (r: T) => r[field!];
  if (op === 'isnull') {
    const want = Boolean(value);
    return (r) => (get(r) === null || get(r) === undefined) === want;
  }
  if (value === null || value === undefined) {
    // Django turns `field=None` into `field__isnull=True`; other lookups with None match nothing.
    return op === 'exact' || op === 'iexact' ? (r) => get(r) === null || get(r) === undefined : () => false;
  }
  switch (op) {
    case 'exact': {
      const want = prep(kind, field!, value);
      return (r) => get(r) === want;
    }
    case 'iexact': {
      const want = asText(prep(kind, field!, value)).toLowerCase();
      return (r) => asText(get(r)).toLowerCase() === want;
    }
    case 'contains':
    case 'icontains':
    case 'startswith':
    case 'istartswith':
    case 'endswith':
    case 'iendswith': {
      const insensitive = op.startsWith('i');
      const norm = (s: string) => (insensitive ? s.toLowerCase() : s);
      const want = norm(pyStr(value));
      const base = insensitive ? op.slice(1) : op;
      if (base === 'contains') return (r) => norm(asText(get(r))).includes(want);
      if (base === 'startswith') return (r) => norm(asText(get(r))).startsWith(want);
      return (r) => norm(asText(get(r))).endsWith(want);
    }
    case 'in': {
      if (typeof value !== 'object' && typeof value !== 'string') {
        throw badQuery(
          'TypeError',
          `'${typeof value === 'number' ? 'int' : typeof value}' object is not iterable`,
        );
      }
      const items =
        typeof value === 'string' ? [...value] : Array.isArray(value) ? value : Object.keys(value as object);
      const set = new Set(
        items.filter((v) => v !== null && v !== undefined).map((v) => prep(kind, field!, v)),
      );
      return (r) => set.has(get(r) as string | number | boolean);
    }
    case 'regex':
    case 'iregex': {
      const re = compileRegex(pyStr(value), op === 'iregex' ? 'i' : '');
      return (r) => re.test(asText(get(r)));
    }
    default: {
      const want = prep(kind, field!, value);
      const cmp = (a: unknown): number => {
        if (typeof want === 'number') return (a as number) - want;
        const s = asText(a);
        const w = asText(want);
        return s < w ? -1 : s > w ? 1 : 0;
      };
      if (op === 'gt') return (r) => cmp(get(r)) > 0;
      if (op === 'gte') return (r) => cmp(get(r)) >= 0;
      if (op === 'lt') return (r) => cmp(get(r)) < 0;
      return (r) => cmp(get(r)) <= 0;
    }
  }
}

/** Checks and compiles `filters` into one predicate (AND of every filter). */
export function compileFilters<T extends Record<string, unknown>>(
  model: LookupModel,
  filters: Record<string, unknown>,
): Predicate<T> {
  checkFilterFields(model.allowed, filters);
  const preds = Object.entries(filters).map(([k, v]) => compileOne<T>(model, k, v));
  return (r) => preds.every((p) => p(r));
}

export const MACHINE_LOOKUPS: LookupModel = {
  allowed: ['hostname', 'ip', 'aliases', 'mac', 'rfs', 'hfs', 'mtype', 'room'],
  fields: {
    hostname: 'char',
    aliases: 'char',
    ip: 'ip',
    mac: 'char',
    rfs: 'int',
    hfs: 'int',
    mtype: 'char',
    room: 'char',
    is_faulty: 'bool',
    is_faulty_details: 'char',
  },
};

export const SWITCH_LOOKUPS: LookupModel = {
  allowed: ['name', 'chassis', 'rfs', 'hfs', 'room'],
  fields: { name: 'char', chassis: 'char', room: 'char', rfs: 'int', hfs: 'int' },
};
