import type { GatehouseConfig } from '../config/index.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/index.js';

/**
 * A CLI operation that changes the store (addmachine, batchimport, …). The same code runs in
 * two places: inside the running server (reached through POST /api/v1/ops/<name>, so the
 * server stays the only writer and its feeds see every change) or directly against the store
 * when no server runs on that data directory.
 */
export interface OperationArgs {
  positionals: string[];
  flags: Record<string, string | boolean>;
  /** File contents the CLI read on the caller's side (e.g. `--file` of batchimport). */
  files: Record<string, string>;
}

export interface OperationOutput {
  out(line: string): void;
  err(line: string): void;
  /** Progress for long jobs; printed on stderr by the CLI. */
  progress(done: number, total: number, what: string): void;
}

export interface OperationContext {
  store: Store;
  config: GatehouseConfig;
  logger: Logger;
}

export interface Operation {
  name: string;
  /** Returns the exit status; throw GatehouseError/ValidationError for failures. */
  run(ctx: OperationContext, args: OperationArgs, output: OperationOutput): Promise<number>;
}

const registry = new Map<string, Operation>();

export function registerOperation(op: Operation): void {
  registry.set(op.name, op);
}

export function findOperation(name: string): Operation | undefined {
  return registry.get(name);
}
