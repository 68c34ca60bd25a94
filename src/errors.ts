/**
 * One error hierarchy for the whole appliance. Every error carries a stable string code
 * (GH_<AREA>_<WHAT>) that logs, metrics and API responses expose, and a message that says
 * what the operator or caller should do about it.
 */
export type ErrorCode =
  | 'GH_CONFIG_INVALID'
  | 'GH_CONFIG_NOT_FOUND'
  | 'GH_STORE_OPEN_FAILED'
  | 'GH_STORE_SCHEMA_TOO_NEW'
  | 'GH_STORE_CONFLICT'
  | 'GH_STORE_NOT_FOUND'
  | 'GH_STORE_LOCKED'
  | 'GH_VALIDATION'
  | 'GH_NOT_FOUND'
  | 'GH_BAD_REQUEST'
  | 'GH_UNAUTHORIZED'
  | 'GH_FORBIDDEN'
  | 'GH_PAYLOAD_TOO_LARGE'
  | 'GH_POOL_EXHAUSTED'
  | 'GH_DHCP_POOL_EXHAUSTED'
  | 'GH_DHCP_MALFORMED'
  | 'GH_DNS_MALFORMED'
  | 'GH_TFTP_MALFORMED'
  | 'GH_NETLINK'
  | 'GH_LISTEN_FAILED'
  | 'GH_PERMISSION'
  | 'GH_SOCKET_FILTER'
  | 'GH_INTERNAL'
  | (string & {});

export class GatehouseError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GatehouseError';
    this.code = code;
    this.details = details;
  }
}

/** Invalid input from an API caller, a CLI user or a file; maps to HTTP 400. */
export class ValidationError extends GatehouseError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('GH_VALIDATION', message, details);
    this.name = 'ValidationError';
  }
}

/** A configuration file problem; the message starts with `file:line:`. */
export class ConfigError extends GatehouseError {
  readonly file: string;
  readonly line: number | undefined;
  constructor(file: string, line: number | undefined, reason: string) {
    super('GH_CONFIG_INVALID', `${file}${line !== undefined ? `:${line}` : ''}: ${reason}`, { file, line });
    this.name = 'ConfigError';
    this.file = file;
    this.line = line;
  }
}

export class NotFoundError extends GatehouseError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('GH_NOT_FOUND', message, details);
    this.name = 'NotFoundError';
  }
}

export function isGatehouseError(e: unknown): e is GatehouseError {
  return e instanceof GatehouseError;
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
