import type { ServerResponse } from 'node:http';
import { GatehouseError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { isClientAbort } from './body.js';
import { sendText } from './respond.js';

const STATUS_BY_CODE: Record<string, number> = {
  GH_PAYLOAD_TOO_LARGE: 413,
  GH_BAD_REQUEST: 400,
  GH_VALIDATION: 400,
  // A write that reached the HA standby (src/ha/errors.ts): retry on the floating address.
  GH_HA_STANDBY: 503,
};

/**
 * Answers an error a handler let through. Only what an operator must act on (status 500) is
 * logged at `error`; a client that went away or sent a refused body is `info`.
 */
export function answerHandlerError(
  res: ServerResponse,
  e: unknown,
  logger: Logger,
  fields: Record<string, unknown>,
): void {
  const status = isClientAbort(e) ? 499 : e instanceof GatehouseError ? (STATUS_BY_CODE[e.code] ?? 500) : 500;
  if (status === 499) logger.info('http.client_aborted', { ...fields, reason: errorMessage(e) });
  else if (status < 500) logger.info('http.request_refused', { ...fields, status, reason: errorMessage(e) });
  else logger.error('http.handler_failed', { ...fields, error: e });
  if (status === 499 || res.headersSent) res.destroy();
  else sendText(res, status, `${errorMessage(e)}\n`);
}
