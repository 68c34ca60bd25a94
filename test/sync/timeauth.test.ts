import t from 'tap';
import fc from 'fast-check';
import { checkToken, generateToken } from '../../src/sync/timeauth.js';

const TS = 1600000000;

t.test('the four test vectors of spec §1.2', async (t) => {
  t.equal(
    generateToken('secret42', 'return_number', TS),
    '1600000000:d7392341f0c861484f9118bf082e5b40f716c14fb32624228343f5574f95de30',
  );
  t.equal(
    generateToken('s3cr3t', null, TS),
    '1600000000:9a20ec0054b24bd4b0eeae8490b4f2339565cc54c62fe2d9dc95e085d4b5dacc',
  );
  t.equal(
    generateToken('s3cr3t', '[{"type": "update", "data": {"login": "a", "hostname": "b"}}]', TS),
    '1600000000:e53186b17547c558a9f82663bf8bf9ab26d933f8189adf015a0381b57e9580ae',
  );
  t.equal(
    generateToken('pub', '{"login": "aproviste", "hostname": "pas-r01p01"}', TS),
    '1600000000:86eedf6289e4ae8745fcd9a76685aa5823c428fff3ec3914262a891f9c9e1d13',
  );
});

t.test('a token is accepted up to 120 s old, and from the future (scenarios 5, 6)', async (t) => {
  const tok = generateToken('secret42', 'return_number', TS);
  const on = (now: number) => checkToken(tok, 'secret42', 'return_number', { enabled: true, now });
  t.ok(on(TS), 'fresh');
  t.ok(on(TS + 110), '110 s old');
  t.ok(on(TS + 120), 'exactly 120 s old');
  t.notOk(on(TS + 120.5), 'just over 120 s');
  t.notOk(on(TS + 121), '121 s old');
  t.ok(on(TS - 100000), 'future timestamps have no lower bound');
});

t.test('wrong secret, wrong message, malformed tokens are refused', async (t) => {
  const opts = { enabled: true, now: TS };
  const tok = generateToken('secret42', 'm', TS);
  t.notOk(checkToken(tok, 'other', 'm', opts));
  t.notOk(checkToken(tok, 'secret42', 'n', opts));
  t.notOk(checkToken(tok, 'secret42', null, opts));
  for (const bad of [
    undefined,
    null,
    '',
    'x',
    ':',
    `${TS}`,
    `${TS}:a:b`,
    `abc:${tok.split(':')[1]}`,
    tok.toUpperCase(),
    `${tok}0`,
  ]) {
    t.notOk(checkToken(bad, 'secret42', 'm', opts), `refuses ${String(bad)}`);
  }
});

t.test('the HMAC covers the timestamp text as received', async (t) => {
  // Python's int() accepts "+1600000000"; the original then signs the raw text "+1600000000".
  const { createHmac } = await import('node:crypto');
  const mac = createHmac('sha256', 'k').update('m+1600000000').digest('hex');
  t.ok(checkToken(`+1600000000:${mac}`, 'k', 'm', { enabled: true, now: TS }));
  const canonical = createHmac('sha256', 'k').update('m1600000000').digest('hex');
  t.notOk(
    checkToken(`+1600000000:${canonical}`, 'k', 'm', { enabled: true, now: TS }),
    'not over the normalised integer',
  );
});

t.test('timeauth disabled accepts anything, even no token', async (t) => {
  t.ok(checkToken('x', 's', 'm', { enabled: false }));
  t.ok(checkToken(undefined, 's', null, { enabled: false }));
});

t.test('UTF-8 messages are signed over their UTF-8 bytes', async (t) => {
  const tok = generateToken('s', 'Élodie', TS);
  t.ok(checkToken(tok, 's', 'Élodie', { enabled: true, now: TS }));
  t.notOk(checkToken(tok, 's', 'Elodie', { enabled: true, now: TS }));
});

t.test('property: generate/check round-trips for any secret, message and age ≤ 120 s', async () => {
  fc.assert(
    fc.property(
      fc.string({ minLength: 1 }),
      fc.option(fc.string()),
      fc.integer({ min: 0, max: 2e9 }),
      fc.integer({ min: -1000, max: 120 }),
      (secret, message, ts, age) => {
        const tok = generateToken(secret, message, ts);
        return checkToken(tok, secret, message, { enabled: true, now: ts + age });
      },
    ),
  );
  fc.assert(
    fc.property(fc.string(), (junk) => {
      checkToken(junk, 's', null, { enabled: true, now: TS });
      return true;
    }),
  );
});
