import fc from 'fast-check';
import t from 'tap';
import { ValidationError } from '../../src/errors.js';
import { AMBIGUOUS_CHARACTERS, generatePassword, PASSWORD_ALPHABET } from '../../src/udb/password.js';

t.test('the alphabet is [A-Za-z0-9] minus pwgen -B ambiguous characters', async (t) => {
  t.equal(PASSWORD_ALPHABET.length, 62 - AMBIGUOUS_CHARACTERS.length);
  for (const c of AMBIGUOUS_CHARACTERS) t.notOk(PASSWORD_ALPHABET.includes(c), c);
  t.match(PASSWORD_ALPHABET, /^[A-Za-z0-9]+$/);
  t.equal(PASSWORD_ALPHABET.replace(/[^0-9]/g, ''), '3479');
});

t.test('default passwords: 8 characters, a capital, a digit, no ambiguous character', async (t) => {
  for (let i = 0; i < 2000; i++) {
    const pw = generatePassword();
    if (
      !/^[A-Za-z0-9]{8}$/.test(pw) ||
      !/[A-Z]/.test(pw) ||
      !/[0-9]/.test(pw) ||
      /[B8G6I1l0OQDS5Z2]/.test(pw)
    ) {
      t.fail(`bad password ${pw}`);
      return;
    }
  }
  t.pass('2000 passwords conform');
});

t.test('property: any length from 2 to 64 with any random source conforms', async (_t) => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 64 }), fc.integer({ min: 1, max: 0x7fffffff }), (len, seed) => {
      // A seeded xorshift byte stream: reproducible, and it reaches the rejection paths.
      let x = seed;
      const random = (n: number) =>
        Uint8Array.from({ length: n }, () => {
          x ^= x << 13;
          x ^= x >>> 17;
          x ^= x << 5;
          return x & 0xff;
        });
      const pw = generatePassword(len, random);
      return (
        pw.length === len &&
        /[A-Z]/.test(pw) &&
        /[0-9]/.test(pw) &&
        [...pw].every((c) => PASSWORD_ALPHABET.includes(c))
      );
    }),
  );
});

t.test('bytes that would bias the distribution are redrawn', async (t) => {
  // 235 = 47 * 5: bytes >= 235 must never be mapped onto the alphabet.
  const three = PASSWORD_ALPHABET.indexOf('3');
  const stream = [255, 250, 235, 0, 236, three + 47 * 4];
  let i = 0;
  const pw = generatePassword(2, (n) => Uint8Array.from({ length: n }, () => stream[i++ % stream.length]!));
  t.equal(pw, 'A3');
});

t.test('characters are spread over the whole alphabet', async (t) => {
  const counts = new Map<string, number>();
  for (let i = 0; i < 3000; i++)
    for (const c of generatePassword(10)) counts.set(c, (counts.get(c) ?? 0) + 1);
  t.equal(counts.size, PASSWORD_ALPHABET.length, 'every character shows up');
});

t.test('impossible lengths are refused', async (t) => {
  for (const len of [0, 1, 65, 2.5, Number.NaN])
    t.throws(() => generatePassword(len), ValidationError, String(len));
});
