/**
 * `dataDir` and `secrets.adminToken` read from a gatehouse.yml without a YAML library (loading
 * one costs a CLI call more than the rest of its start-up). Only the plain block layout the
 * README shows is understood — `key: value` lines at the top level, `adminToken:` one level
 * under `secrets:`, plain or quoted scalars. Anything else (flow mappings, anchors, tags, block
 * scalars, continuation lines, a repeated key, a value YAML would not read as a string) gives
 * `undefined`, and the caller reads the file with the real parser instead. Whenever the YAML
 * parser accepts the file, what is returned is what it reads (a property test holds it to
 * that); sections other than `dataDir` and `secrets` are skipped, not checked: a file broken
 * elsewhere still finds its running server (which validated its configuration at start).
 */
export interface QuickConfig {
  dataDir?: string;
  adminToken?: string;
}

const KEY_LINE = /^( *)([A-Za-z_][A-Za-z0-9_-]*) *:(?: +(.*))?$/;
/** Plain scalars YAML 1.2 (core schema) reads as something else than a string. */
const NOT_A_STRING =
  /^(?:~|null|Null|NULL|true|True|TRUE|false|False|FALSE|[-+]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|0x[0-9a-fA-F]+|0o[0-7]+|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;

/** A scalar after `key:` as YAML reads it, or undefined when it is not a simple string. */
export function quickScalar(raw: string): string | undefined {
  const text = raw.trim();
  if (text === '') return undefined;
  if (text.startsWith("'")) {
    const m = /^'((?:[^']|'')*)'(?: +#.*)?$/.exec(text);
    return m ? m[1]!.replaceAll("''", "'") : undefined;
  }
  if (text.startsWith('"')) {
    const m = /^("(?:[^"\\]|\\["\\/bfnrt])*")(?: +#.*)?$/.exec(text);
    return m ? (JSON.parse(m[1]!) as string) : undefined;
  }
  const plain = text.replace(/ +#.*$/, '');
  if (/^[-?:,[\]{}#&*!|>'"%@`]/.test(plain) || /: |\t| #/.test(plain) || plain.endsWith(':'))
    return undefined;
  if (NOT_A_STRING.test(plain)) return undefined;
  return plain;
}

function isBlankOrComment(line: string): boolean {
  return /^\s*(#.*)?$/.test(line);
}

export function quickConfig(text: string): QuickConfig | undefined {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  if (lines[0] === '---') lines.shift();
  const out: QuickConfig = {};
  const seen = new Set<string>();
  let section: string | undefined;
  let sectionIndent: number | undefined;
  const sectionKeys = new Set<string>();
  for (const line of lines) {
    if (isBlankOrComment(line)) continue;
    if (/^ *\t/.test(line)) return undefined;
    const m = KEY_LINE.exec(line);
    if (!m) {
      // Inside another section anything goes; elsewhere (a continuation of dataDir, a
      // document marker, flow syntax at the top level …) it is not the layout understood here.
      if (section !== undefined && section !== 'secrets' && section !== 'dataDir' && /^ +/.test(line))
        continue;
      return undefined;
    }
    const indent = m[1]!.length;
    const key = m[2]!;
    const value = m[3] ?? '';
    if (indent === 0) {
      if (seen.has(key)) return undefined;
      seen.add(key);
      section = key;
      sectionIndent = undefined;
      sectionKeys.clear();
      if (key === 'dataDir') {
        const v = quickScalar(value);
        if (v === undefined) return undefined;
        out.dataDir = v;
      } else if (key === 'secrets' && !isBlankOrComment(value)) {
        return undefined;
      }
      continue;
    }
    if (section === 'dataDir') return undefined;
    if (section !== 'secrets') continue;
    sectionIndent ??= indent;
    if (indent !== sectionIndent) return undefined;
    if (sectionKeys.has(key)) return undefined;
    sectionKeys.add(key);
    // Every secret is a string: one this reading cannot take is a layout left to the parser.
    const v = quickScalar(value);
    if (v === undefined) return undefined;
    if (key === 'adminToken') out.adminToken = v;
  }
  return out;
}
