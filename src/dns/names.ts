/**
 * Domain names inside Gatehouse are presentation strings without the trailing dot ("mdb.prolo",
 * "" for the root). Labels that hold '.', '\\' or non-printable bytes are escaped as in master
 * files (RFC 1035 §5.1: `\.`, `\\`, `\DDD`), so any wire name round-trips. Comparisons use
 * ASCII-only lowercasing (RFC 4343: DNS is case-insensitive for A-Z only).
 */
export const MAX_NAME_WIRE_BYTES = 255;
export const MAX_LABEL_BYTES = 63;
/** Names that need no escaping and are already lowercase (every MDB hostname). */
const PLAIN_CANONICAL = /^[a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63})*$/;

/** ASCII-only lowercase; other bytes (including 0x80–0xff) are left alone. */
export function lowerName(name: string): string {
  let out = '';
  let changed = false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 65 && c <= 90) {
      changed = true;
      out += String.fromCharCode(c + 32);
    } else out += name[i];
  }
  return changed ? out : name;
}

/** Formats one wire label (bytes) for presentation. */
export function formatLabel(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let s = '';
  for (let i = start; i < end; i++) {
    const c = bytes[i]!;
    if (c === 0x2e || c === 0x5c) s += '\\' + String.fromCharCode(c);
    else if (
      c <= 0x20 ||
      c >= 0x7f ||
      c === 0x22 ||
      c === 0x28 ||
      c === 0x29 ||
      c === 0x3b ||
      c === 0x40 ||
      c === 0x24
    ) {
      s += '\\' + c.toString().padStart(3, '0');
    } else s += String.fromCharCode(c);
  }
  return s;
}

/**
 * Splits a presentation name into wire labels. Throws RangeError on an empty label, a label
 * over 63 bytes or a name over 255 wire bytes (callers validate config and zone data with it).
 */
export function nameLabels(name: string): Buffer[] {
  if (name === '' || name === '.') return [];
  const src = name.endsWith('.') && !name.endsWith('\\.') ? name.slice(0, -1) : name;
  const labels: Buffer[] = [];
  let cur: number[] = [];
  let total = 1;
  const finish = () => {
    if (cur.length === 0) throw new RangeError(`empty label in "${name}"`);
    if (cur.length > MAX_LABEL_BYTES) throw new RangeError(`label longer than 63 bytes in "${name}"`);
    labels.push(Buffer.from(cur));
    total += cur.length + 1;
    cur = [];
  };
  for (let i = 0; i < src.length; i++) {
    const ch = src[i]!;
    if (ch === '.') {
      finish();
      continue;
    }
    if (ch === '\\') {
      const d = /^\d{3}/.exec(src.slice(i + 1, i + 4));
      if (d) {
        const v = Number(d[0]);
        if (v > 255) throw new RangeError(`bad escape \\${d[0]} in "${name}"`);
        cur.push(v);
        i += 3;
      } else {
        const next = src.charCodeAt(i + 1);
        if (Number.isNaN(next)) throw new RangeError(`dangling backslash in "${name}"`);
        cur.push(next & 0xff);
        i += 1;
      }
      continue;
    }
    const code = src.charCodeAt(i);
    if (code > 0xff) throw new RangeError(`non-ASCII character in "${name}"; use punycode`);
    cur.push(code);
  }
  finish();
  if (total > MAX_NAME_WIRE_BYTES) throw new RangeError(`name longer than 255 bytes: "${name}"`);
  return labels;
}

/** Uncompressed wire form, original case. */
export function nameToWire(name: string): Buffer {
  if (name.length <= 253 && PLAIN_CANONICAL.test(name)) {
    const out = Buffer.allocUnsafe(name.length + 2);
    let pos = 0;
    for (const label of name.split('.')) {
      out[pos++] = label.length;
      pos += out.write(label, pos, 'latin1');
    }
    out[pos++] = 0;
    return out.subarray(0, pos);
  }
  const labels = nameLabels(name);
  const parts: Buffer[] = [];
  for (const l of labels) parts.push(Buffer.from([l.length]), l);
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

/** Canonical key of a name: lowercase, normalised escapes, no trailing dot. */
export function canonicalName(name: string): string {
  // Hostnames are already canonical; skip the label split for them.
  if (name.length <= 253 && PLAIN_CANONICAL.test(name)) return name;
  return nameLabels(name)
    .map((l) => formatLabel(lowerBytes(l)))
    .join('.');
}

export function lowerBytes(b: Buffer): Buffer {
  const out = Buffer.from(b);
  for (let i = 0; i < out.length; i++) {
    const c = out[i]!;
    if (c >= 65 && c <= 90) out[i] = c + 32;
  }
  return out;
}

/** True when `name` equals `zone` or lies below it (both canonical). */
export function isInZone(name: string, zone: string): boolean {
  if (zone === '') return true;
  return name === zone || name.endsWith('.' + zone);
}

/** `name` relative to `origin` for a master file ("@" for the apex). Both canonical. */
export function relativeName(name: string, origin: string): string {
  if (name === origin) return '@';
  if (origin !== '' && name.endsWith('.' + origin)) return name.slice(0, -origin.length - 1);
  return name + '.';
}

/**
 * Joins a config/MDB name to the domain: "foo.cl" → "foo.cl.prolo"; "host.example." is already
 * absolute; "@" is the domain itself.
 */
export function qualify(name: string, origin: string): string {
  if (name === '@') return origin;
  if (name.endsWith('.') && !name.endsWith('\\.')) return name.slice(0, -1);
  return origin === '' ? name : `${name}.${origin}`;
}

/** Parent of a canonical name ("a.b.c" → "b.c"; "c" → ""). Escaped dots are respected. */
export function parentName(name: string): string {
  for (let i = 0; i < name.length; i++) {
    if (name[i] === '\\') {
      i += /^\d{3}/.test(name.slice(i + 1, i + 4)) ? 3 : 1;
      continue;
    }
    if (name[i] === '.') return name.slice(i + 1);
  }
  return '';
}
