import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * timeauth tokens (spec §1.2, `prologin/timeauth.py`): `"<ts>:<hex>"` where hex is the
 * lowercase HMAC-SHA256, keyed with the shared secret, of `str(message) + "<ts>"`. A null
 * message (the /poll subscription) is Python's `str(None)`, the four characters `None`.
 */
export const TOKEN_TIMEOUT_SECONDS = 120;

function messageText(message: string | null): string {
  return message === null ? 'None' : message;
}

function hmacHex(secret: string, text: string): string {
  return createHmac('sha256', Buffer.from(secret, 'utf8')).update(Buffer.from(text, 'utf8')).digest('hex');
}

/** A token for `message` at Unix time `ts` (whole seconds; default now). */
export function generateToken(secret: string, message: string | null, ts?: number): string {
  const stamp = String(Math.floor(ts ?? Date.now() / 1000));
  return `${stamp}:${hmacHex(secret, messageText(message) + stamp)}`;
}

// Python's int() accepts surrounding whitespace, a sign and digit-group underscores.
const PY_INT = /^\s*[+-]?\d+(?:_\d+)*\s*$/;

/**
 * `check_token` of the original. With `enabled` false every token passes (callers that
 * require the field check its presence themselves). `now` is Unix time in seconds (may be
 * fractional, like Python's time.time()).
 *
 * The HMAC is recomputed over the timestamp text exactly as received (the original signs
 * `chunks[0]`, not the parsed integer), and tokens stamped in the future are accepted: the
 * original has no lower bound.
 */
export function checkToken(
  token: string | null | undefined,
  secret: string,
  message: string | null,
  opts: { enabled: boolean; now?: number },
): boolean {
  if (!opts.enabled) return true;
  if (typeof token !== 'string') return false;
  const chunks = token.split(':');
  if (chunks.length !== 2) return false;
  const [stampText, given] = chunks as [string, string];
  if (!PY_INT.test(stampText)) return false;
  const stamp = Number(stampText.trim().replaceAll('_', ''));
  const now = opts.now ?? Date.now() / 1000;
  if (!(now - stamp <= TOKEN_TIMEOUT_SECONDS)) return false;
  const expected = Buffer.from(hmacHex(secret, messageText(message) + stampText), 'utf8');
  const got = Buffer.from(given, 'utf8');
  // Constant time over the expected length; a length mismatch is a plain rejection.
  if (got.length !== expected.length) return false;
  return timingSafeEqual(got, expected);
}
