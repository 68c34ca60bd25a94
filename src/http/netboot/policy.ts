import { tornadoArgument } from '../respond.js';
import { bootScript, faultyMachineScript, registrationErrorScript, unknownMachineScript } from './scripts.js';
import type { NetbootSnapshot } from './view.js';

/**
 * Request → script decisions of the netboot virtual host (spec §6.1), pure and table-tested.
 * The server module does the I/O, logging and the MDB call.
 */

export type BootOutcome = 'boot' | 'unknown' | 'faulty' | 'no_rfs';

export interface BootAnswer {
  outcome: BootOutcome;
  script: string;
  /** The MAC as matched against MDB (percent-decoded). */
  mac: string;
  hostname?: string;
}

/**
 * `<mac>` of `/boot/<mac>/`, percent-decoded (iPXE sends `52%3A54%3A…`, design notes), or
 * undefined when the path is not a boot path. Like the original route `/boot/(.*)/`, the
 * trailing slash is required and everything between the prefix and it is the MAC.
 */
export function bootPathMac(pathname: string): string | undefined {
  const m = /^\/boot\/(.*)\/$/s.exec(pathname);
  if (!m) return undefined;
  try {
    return decodeURIComponent(m[1]!);
  } catch {
    return m[1]!;
  }
}

export function bootAnswer(
  mac: string,
  snapshot: NetbootSnapshot,
  opts: { fallback: boolean; options: string },
): BootAnswer {
  const found = snapshot.byMac.get(mac) ?? [];
  if (found.length !== 1) return { outcome: 'unknown', script: unknownMachineScript(), mac };
  const machine = found[0]!;
  if (machine.is_faulty) {
    return {
      outcome: 'faulty',
      script: faultyMachineScript(machine.is_faulty_details),
      mac,
      hostname: machine.hostname,
    };
  }
  const rfsHostname = `rfs${machine.rfs}`;
  const rfs = snapshot.byAlias.get(rfsHostname);
  if (!rfs) {
    return {
      outcome: 'no_rfs',
      script: registrationErrorScript(`No such RFS: ${rfsHostname}`),
      mac,
      hostname: machine.hostname,
    };
  }
  return {
    outcome: 'boot',
    script: bootScript({ rfsHostname, rfsIp: rfs.ip, fallback: opts.fallback, options: opts.options }),
    mac,
    hostname: machine.hostname,
  };
}

export interface RegisterArgs {
  hostname: string;
  mac: string;
  rfs: number;
  hfs: number;
  room: string;
  mtype: string;
}

export type RegisterParse = { ok: true; args: RegisterArgs } | { ok: false; message: string };

/** Python's `repr()` of a str, for the `int()` error text clients may match on. */
export function pythonStrRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c >= 0x80 && c < 0xa0) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out + quote;
}

/** Python `int(value)` for base 10 (ASCII digits, optional sign, single underscores between digits). */
export function pythonInt(value: string): number | undefined {
  const s = value.trim();
  if (!/^[+-]?\d+(_\d+)*$/.test(s)) return undefined;
  return Number(s.replace(/_/g, ''));
}

const REGISTER_PARAMS = ['hostname', 'mac', 'rfs', 'hfs', 'room', 'mtype'] as const;

/**
 * The six query arguments of `/register`, read in the original handler's order so the first
 * problem reported is the same: Tornado's `HTTP 400: Bad Request (Missing argument <name>)`
 * or Python's `invalid literal for int() with base 10: '<v>'`. Values are cleaned the way
 * Tornado's `get_query_argument` does (last occurrence, control characters, stripped).
 */
export function parseRegisterQuery(params: URLSearchParams): RegisterParse {
  const values: Partial<Record<(typeof REGISTER_PARAMS)[number], string | number>> = {};
  for (const name of REGISTER_PARAMS) {
    const all = params.getAll(name);
    const raw = tornadoArgument(all.length > 0 ? all[all.length - 1]! : null);
    if (raw === null) return { ok: false, message: `HTTP 400: Bad Request (Missing argument ${name})` };
    if (name === 'rfs' || name === 'hfs') {
      const n = pythonInt(raw);
      if (n === undefined)
        return { ok: false, message: `invalid literal for int() with base 10: ${pythonStrRepr(raw)}` };
      values[name] = n;
    } else {
      values[name] = raw;
    }
  }
  return { ok: true, args: values as unknown as RegisterArgs };
}

export function registerFailure(message: string): string {
  return registrationErrorScript(message);
}
