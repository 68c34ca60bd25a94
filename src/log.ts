/**
 * Structured logs: one JSON object per line on stderr (journald keeps them as-is).
 * Protocol servers log one line per transaction (DHCP exchange, TFTP transfer, login…)
 * with `event` naming what happened, so operators can grep and count.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
  child(bindings: LogFields): Logger;
}

export type LogSink = (line: string) => void;

export interface LoggerOptions {
  level?: LogLevel;
  sink?: LogSink;
  bindings?: LogFields;
  clock?: () => Date;
}

function serialiseError(v: unknown): unknown {
  if (v instanceof Error) {
    const out: Record<string, unknown> = { message: v.message, name: v.name };
    if ('code' in v) out.code = (v as { code: unknown }).code;
    return out;
  }
  return v;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const threshold = LEVELS[opts.level ?? 'info'];
  const sink: LogSink = opts.sink ?? ((line) => process.stderr.write(`${line}\n`));
  const bindings = opts.bindings ?? {};
  const clock = opts.clock ?? (() => new Date());
  const emit = (level: LogLevel, event: string, fields?: LogFields): void => {
    if (LEVELS[level] < threshold) return;
    const record: LogFields = { ts: clock().toISOString(), level, event, ...bindings };
    if (fields) for (const [k, v] of Object.entries(fields)) record[k] = serialiseError(v);
    let line: string;
    try {
      // Without a replacer first: a replacer is called for every key of every line, and only a
      // bigint (which makes JSON.stringify throw) needs one.
      line = JSON.stringify(record);
    } catch {
      try {
        line = JSON.stringify(record, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
      } catch {
        line = JSON.stringify({ ts: record.ts, level, event, note: 'unserialisable log fields' });
      }
    }
    sink(line);
  };
  return {
    debug: (e, f) => emit('debug', e, f),
    info: (e, f) => emit('info', e, f),
    warn: (e, f) => emit('warn', e, f),
    error: (e, f) => emit('error', e, f),
    child: (more) => createLogger({ ...opts, bindings: { ...bindings, ...more } }),
  };
}

/** A logger that keeps records in memory; tests assert on what was logged. */
export function createMemoryLogger(level: LogLevel = 'debug'): Logger & { records: LogFields[] } {
  const records: LogFields[] = [];
  const logger = createLogger({ level, sink: (line) => records.push(JSON.parse(line) as LogFields) });
  return Object.assign(logger, { records });
}

export const silentLogger: Logger = createLogger({ sink: () => {} });
