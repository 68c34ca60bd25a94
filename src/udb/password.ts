import { randomBytes } from 'node:crypto';
import { ValidationError } from '../errors.js';

/** `pwgen -B` leaves these out because they are easy to misread on a printed sheet. */
export const AMBIGUOUS_CHARACTERS = 'B8G6I1l0OQDS5Z2';

const ALL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** `[A-Za-z0-9]` minus the ambiguous characters: 18 capitals, 25 small letters, 4 digits. */
export const PASSWORD_ALPHABET = [...ALL].filter((c) => !AMBIGUOUS_CHARACTERS.includes(c)).join('');

export const MIN_PASSWORD_LENGTH = 2;
/** The `password` column of the original is 64 characters wide. */
export const MAX_PASSWORD_LENGTH = 64;

/** Source of cryptographically secure random bytes (injectable for tests). */
export type RandomBytes = (size: number) => Uint8Array;

/**
 * A password like `pwgen -cnB <length>` (spec §7.5): `length` characters of
 * PASSWORD_ALPHABET with at least one capital and one digit, from a CSPRNG. Each character is
 * drawn uniformly (rejection sampling of bytes) and a draw missing a capital or a digit is
 * thrown away whole, so every valid password is equally likely.
 */
export function generatePassword(length = 8, random: RandomBytes = randomBytes): string {
  if (!Number.isInteger(length) || length < MIN_PASSWORD_LENGTH || length > MAX_PASSWORD_LENGTH) {
    throw new ValidationError(
      `password length must be an integer from ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} (got ${length}); ` +
        'a password needs room for at least one capital and one digit',
    );
  }
  for (;;) {
    const pw = drawCharacters(length, random);
    if (/[A-Z]/.test(pw) && /[0-9]/.test(pw)) return pw;
  }
}

const n = PASSWORD_ALPHABET.length;
/** Largest multiple of the alphabet size that fits in a byte: bytes at or above it are redrawn. */
const LIMIT = 256 - (256 % n);

function drawCharacters(length: number, random: RandomBytes): string {
  let out = '';
  while (out.length < length) {
    for (const b of random(length * 2)) {
      if (b >= LIMIT) continue;
      out += PASSWORD_ALPHABET[b % n];
      if (out.length === length) break;
    }
  }
  return out;
}
