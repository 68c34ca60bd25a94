/**
 * JSON text exactly as Python's `json.dumps(value)` writes it with default arguments: `", "`
 * and `": "` separators, non-ASCII and DEL escaped as lowercase `\uXXXX` (ensure_ascii), keys in
 * insertion order. The original RPC server and sync feeds emit this form; docs, tests and a few
 * scripts compare bytes, so the appliance writes the same (spec §1.3).
 *
 * Built on JSON.stringify (native speed) followed by one byte pass that adds the spaces outside
 * strings: a 5 000-machine mdbsync snapshot is a few megabytes and is written to every new
 * subscriber. Integer-valued numbers print as integers (Python would print `1.0` for a float
 * 1.0, but every number on these wires is an integer).
 */
export class NotJsonError extends Error {
  constructor(what: string) {
    super(`cannot serialise ${what} as JSON`);
    this.name = 'NotJsonError';
  }
}

const NON_ASCII = /[\u007f-\uffff]/g;
const HAS_NON_ASCII = /[\u007f-\uffff]/;

function escapeNonAscii(s: string): string {
  return HAS_NON_ASCII.test(s) ? s.replace(NON_ASCII, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : s;
}

export function pyString(s: string): string {
  return escapeNonAscii(JSON.stringify(s));
}

/** Refuses what Python's json.dumps refuses (JSON.stringify would drop or convert it). */
function strictReplacer(_key: string, v: unknown): unknown {
  switch (typeof v) {
    case 'function':
    case 'symbol':
    case 'bigint':
      throw new NotJsonError(typeof v);
    case 'number':
      if (!Number.isFinite(v)) throw new NotJsonError(String(v));
      return v;
    default:
      return v;
  }
}

export interface PyJsonOptions {
  /**
   * Throw NotJsonError on functions, symbols, bigints and non-finite numbers instead of
   * JSON.stringify's silent conversions (default true; the sync feeds serialise records that
   * came out of the store or JSON.parse and skip the check).
   */
  strict?: boolean;
}

export function pyJsonDumps(value: unknown, opts: PyJsonOptions = {}): string {
  if (value === undefined) return 'null';
  let compact: string;
  try {
    compact = opts.strict === false ? JSON.stringify(value) : JSON.stringify(value, strictReplacer);
  } catch (e) {
    if (e instanceof NotJsonError) throw e;
    throw new NotJsonError(e instanceof Error ? e.message : String(e));
  }
  if (compact === undefined) throw new NotJsonError(typeof value);
  // Non-ASCII only occurs inside strings: escaping first leaves pure ASCII for the byte pass.
  const src = Buffer.from(escapeNonAscii(compact), 'latin1');
  const dst = Buffer.allocUnsafe(src.length * 2);
  let j = 0;
  let inString = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    dst[j++] = c;
    if (inString) {
      if (c === 0x5c) dst[j++] = src[++i]!;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x2c || c === 0x3a) dst[j++] = 0x20;
  }
  return dst.toString('latin1', 0, j);
}
