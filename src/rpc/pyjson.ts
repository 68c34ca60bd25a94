/**
 * JSON text exactly as Python's `json.dumps(value)` writes it with default arguments: `", "`
 * and `": "` separators, non-ASCII and DEL escaped as lowercase `\uXXXX` (ensure_ascii), keys in
 * insertion order. The original RPC server and sync feeds emit this form; docs, tests and a few
 * scripts compare bytes, so the appliance writes the same (spec §1.3).
 *
 * Integers print as integers; non-integer finite numbers print as JavaScript does (Python would
 * print `1.0` for a float 1.0, but every number on these wires is an integer).
 */
export class NotJsonError extends Error {
  constructor(what: string) {
    super(`cannot serialise ${what} as JSON`);
    this.name = 'NotJsonError';
  }
}

// Characters JSON.stringify leaves raw that ensure_ascii escapes: DEL and everything above ASCII.
const NON_ASCII = /[\u007f-\uffff]/g;
const HAS_NON_ASCII = /[\u007f-\uffff]/;

export function pyString(s: string): string {
  const quoted = JSON.stringify(s);
  if (!HAS_NON_ASCII.test(quoted)) return quoted;
  return quoted.replace(NON_ASCII, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function pyJsonDumps(value: unknown): string {
  const parts: string[] = [];
  write(value, parts, new Set());
  return parts.join('');
}

function write(v: unknown, out: string[], seen: Set<object>): void {
  switch (typeof v) {
    case 'string':
      out.push(pyString(v));
      return;
    case 'number':
      if (Number.isFinite(v)) out.push(Object.is(v, -0) ? '0' : String(v));
      // Python writes NaN/Infinity (invalid JSON); nothing here produces them, refuse instead.
      else throw new NotJsonError(String(v));
      return;
    case 'boolean':
      out.push(v ? 'true' : 'false');
      return;
    case 'undefined':
      out.push('null');
      return;
    case 'object':
      break;
    default:
      throw new NotJsonError(typeof v);
  }
  if (v === null) {
    out.push('null');
    return;
  }
  if (seen.has(v)) throw new NotJsonError('a circular structure');
  seen.add(v);
  if (Array.isArray(v)) {
    out.push('[');
    for (let i = 0; i < v.length; i++) {
      if (i > 0) out.push(', ');
      write(v[i], out, seen);
    }
    out.push(']');
  } else if (v instanceof Date) {
    throw new NotJsonError('a Date');
  } else {
    out.push('{');
    let first = true;
    for (const key of Object.keys(v)) {
      const item = (v as Record<string, unknown>)[key];
      if (item === undefined) continue;
      if (!first) out.push(', ');
      first = false;
      out.push(pyString(key), ': ');
      write(item, out, seen);
    }
    out.push('}');
  }
  seen.delete(v);
}
