import { errorMessage } from '../errors.js';

/** Thrown while serving a call to answer with an error envelope and a status. */
export class RpcReply extends Error {
  constructor(
    readonly status: number,
    readonly exnType: string,
    readonly exnMessage: string,
  ) {
    super(exnMessage);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The call data of a POST body (spec §1.3 step 2): a JSON object merged over
 * `{"args": [], "kwargs": {}}`. Pure; any bad body throws an RpcReply (the original's
 * `JSONDecodeError` or `TypeError` with 500), never anything else.
 */
export function decodeRpcBody(body: Buffer): Record<string, unknown> {
  const data: Record<string, unknown> = { args: [], kwargs: {} };
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(body));
  } catch (e) {
    throw new RpcReply(
      500,
      'JSONDecodeError',
      body.length === 0 ? 'Expecting value: line 1 column 1 (char 0)' : errorMessage(e),
    );
  }
  // The original does dict.update(json): a non-object top level is a TypeError.
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new RpcReply(
      500,
      'TypeError',
      'the request body must be a JSON object {"args": [...], "kwargs": {...}}',
    );
  }
  return Object.assign(data, parsed);
}
