import { isIP } from 'node:net';
import { ValidationError } from '../errors.js';
import { pyRepr, pyStr } from '../rpc/pyrepr.js';

/**
 * The slice of Django's `Model.full_clean()` the original MDB relied on: per-field conversion
 * (`to_python`), choices, blank/null, validators (regex, then max length), then uniqueness of
 * the fields that passed. Messages are Django 3's, so an RPC caller gets the same
 * `ValidationError` text as from the original (spec §2.4 step 4).
 */
export type FieldKind = 'char' | 'text' | 'int' | 'bool' | 'ip';

export interface FieldSpec {
  name: string;
  /** Django's verbose_name, used in uniqueness messages ("Machine with this Host name…"). */
  verbose: string;
  kind: FieldKind;
  maxLength?: number;
  /** Empty values ('' / null) are allowed and skip validation. */
  blank?: boolean;
  /** null is a valid stored value. */
  nullable?: boolean;
  choices?: readonly string[];
  /** Validated with search semantics (unanchored unless the pattern anchors itself). */
  regex?: RegExp;
  unique?: boolean;
}

export type FieldErrors = Record<string, string[]>;

/**
 * A Django `ValidationError` with a field dict. `pyMessage` is `str(e)` of the original
 * (the dict's repr), `fields` the same data for JSON APIs.
 */
export class ModelValidationError extends ValidationError {
  readonly fields: FieldErrors;
  constructor(fields: FieldErrors) {
    super(describe(fields), { fields });
    this.name = 'ModelValidationError';
    this.fields = fields;
  }
  get pyMessage(): string {
    return pyRepr(this.fields);
  }
}

function describe(fields: FieldErrors): string {
  return Object.entries(fields)
    .map(([f, msgs]) => `${f}: ${msgs.join(' ')}`)
    .join('; ');
}

const INT_MIN = -2147483648;
const INT_MAX = 2147483647;
const PY_INT = /^\s*[+-]?\d+(?:_\d+)*\s*$/;

class FieldError extends Error {}

function toPython(spec: FieldSpec, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  switch (spec.kind) {
    case 'char':
    case 'text':
      return pyStr(v);
    case 'int':
      if (typeof v === 'boolean') return v ? 1 : 0;
      if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
      if (typeof v === 'string' && PY_INT.test(v)) return Number(v.trim().replaceAll('_', ''));
      throw new FieldError(`“${pyStr(v)}” value must be an integer.`);
    case 'bool':
      if (typeof v === 'boolean') return v;
      if (v === 1 || v === 't' || v === 'True' || v === '1') return true;
      if (v === 0 || v === 'f' || v === 'False' || v === '0') return false;
      throw new FieldError(`“${pyStr(v)}” value must be either True or False.`);
    case 'ip': {
      const s = pyStr(v).trim();
      if (s === '') return s;
      const family = isIP(s);
      if (family === 0 || (family === 4 && /(^|\.)0\d/.test(s)))
        throw new FieldError('Enter a valid IPv4 or IPv6 address.');
      return family === 6 ? s.toLowerCase() : s;
    }
  }
}

function isEmpty(v: unknown): boolean {
  return v === null || v === undefined || v === '';
}

export interface CleanResult {
  values: Record<string, unknown>;
  errors: FieldErrors;
}

/**
 * Validates `raw` against `fields`. `taken(field, value)` says whether another row already
 * holds `value` for a unique field. Throws ModelValidationError with Django's dict order
 * (field errors in field order, then uniqueness errors).
 */
export function fullClean(
  model: string,
  fields: readonly FieldSpec[],
  raw: Record<string, unknown>,
  taken: (field: string, value: unknown) => boolean,
): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  const errors: FieldErrors = {};
  for (const spec of fields) {
    let v = raw[spec.name];
    if (spec.blank && isEmpty(v)) {
      values[spec.name] = v === undefined ? null : v;
      continue;
    }
    try {
      v = toPython(spec, v);
      if (spec.choices && !isEmpty(v) && !spec.choices.includes(v as string)) {
        throw new FieldError(`Value ${pyRepr(v)} is not a valid choice.`);
      }
      if (v === null && !spec.nullable) throw new FieldError('This field cannot be null.');
      if (v === '' && !spec.blank) throw new FieldError('This field cannot be blank.');
      const msgs: string[] = [];
      if (typeof v === 'string') {
        if (spec.regex && !spec.regex.test(v)) msgs.push('Enter a valid value.');
        if (spec.maxLength !== undefined && [...v].length > spec.maxLength) {
          msgs.push(`Ensure this value has at most ${spec.maxLength} characters (it has ${[...v].length}).`);
        }
      }
      if (typeof v === 'number') {
        if (v > INT_MAX) msgs.push(`Ensure this value is less than or equal to ${INT_MAX}.`);
        if (v < INT_MIN) msgs.push(`Ensure this value is greater than or equal to ${INT_MIN}.`);
      }
      if (msgs.length > 0) {
        errors[spec.name] = msgs;
        continue;
      }
      values[spec.name] = v;
    } catch (e) {
      if (!(e instanceof FieldError)) throw e;
      errors[spec.name] = [e.message];
    }
  }
  for (const spec of fields) {
    if (!spec.unique || spec.name in errors || isEmpty(values[spec.name])) continue;
    if (taken(spec.name, values[spec.name])) {
      errors[spec.name] = [...(errors[spec.name] ?? []), `${model} with this ${spec.verbose} already exists.`];
    }
  }
  if (Object.keys(errors).length > 0) throw new ModelValidationError(errors);
  return values;
}
