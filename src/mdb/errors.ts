import { GatehouseError } from '../errors.js';

/**
 * A domain error that the RPC layer reports under the original Python exception class
 * (`exnType`: RuntimeError, ValueError, FieldError…) and the admin API under `code`.
 */
export class MdbError extends GatehouseError {
  readonly exnType: string;
  readonly status: number;
  constructor(code: string, exnType: string, message: string, status = 400) {
    super(code, message);
    this.name = 'MdbError';
    this.exnType = exnType;
    this.status = status;
  }
}

export const registrationDisabled = () =>
  new MdbError('GH_MDB_REGISTRATION_DISABLED', 'RuntimeError', 'self registration is disabled', 403);
export const allocationFailed = () =>
  new MdbError('GH_MDB_ALLOCATION_FAILED', 'RuntimeError', 'unable to allocate an IP address', 409);
export const registerSaveFailed = () =>
  new MdbError('GH_MDB_DUPLICATE', 'RuntimeError', 'unable to register, duplicate name?', 409);
