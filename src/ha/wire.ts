import type { ChangeEvent, Key, RowWrite } from '../store/index.js';

/**
 * The replication stream: NDJSON, one message a line. Row values may hold bytes (DHCP lease
 * blocks), which JSON lacks: they travel as `{"$b": "<base64>"}`.
 */

/** Where a store is in the replicated history: transaction number, its term and the node that wrote it. */
export interface Position {
  r: number;
  t: number;
  n: string;
}

/** One replicated transaction. `ts` is the primary's clock when it committed (lag). */
export interface JournalEntry extends Position {
  ts: number;
  w: RowWrite[];
  e: ChangeEvent[];
}

export type StreamMessage =
  | { k: 'hello'; node: string; term: number; r: number; seq: number }
  | { k: 'tx'; x: JournalEntry }
  | { k: 'hb'; term: number; r: number; seq: number; ts: number }
  | { k: 'snap'; pos: Position; tables: string[]; seq: number }
  | { k: 'rows'; rows: Array<[string, Key, unknown]> }
  | { k: 'log'; events: ChangeEvent[] }
  | { k: 'end' };

function replacer(this: unknown, key: string, value: unknown): unknown {
  // Buffer.toJSON runs before the replacer: look at the holder's own value.
  const raw = (this as Record<string, unknown>)[key];
  if (raw instanceof Uint8Array) {
    return { $b: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64') };
  }
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    if (typeof o.$b === 'string' && Object.keys(o).length === 1)
      return new Uint8Array(Buffer.from(o.$b, 'base64'));
  }
  return value;
}

export function encodeMessage(m: StreamMessage): string {
  return `${JSON.stringify(m, replacer)}\n`;
}

export function decodeMessage(line: string): StreamMessage {
  return JSON.parse(line, reviver) as StreamMessage;
}

/** Splits a byte stream into lines; keeps the unfinished tail. */
export class LineSplitter {
  private tail = '';
  push(chunk: string): string[] {
    const parts = (this.tail + chunk).split('\n');
    this.tail = parts.pop() ?? '';
    return parts.filter((p) => p.length > 0);
  }
}
