/**
 * Every spelling of one `X-Real-IP` address gets the same SSO answer, through the real HTTP
 * endpoint; everything that is not exactly one address is refused with a reason
 * (docs/presence.md "Which X-Real-IP spellings are accepted").
 */
import fc from 'fast-check';
import t from 'tap';
import { parseClientIp } from '../../src/presence/client-ip.js';
import { ssoLookup } from '../../src/presence/sso-map.js';
import { startGatehouse } from '../helpers/gatehouse.js';
import { FIXTURE_MACHINES, FIXTURE_USERS, httpRequest, PUB, presencePost, SUB, seed } from './helpers.js';

/** 192.168.0.1 is pas-r01p01, where aproviste is logged on during these tests. */
const SAME_MACHINE = [
  '192.168.0.1',
  ' 192.168.0.1\t',
  '::ffff:192.168.0.1',
  '::FFFF:192.168.0.1',
  '0:0:0:0:0:ffff:192.168.0.1',
  '0000:0000:0000:0000:0000:FFFF:192.168.0.1',
  '0:0::ffff:192.168.0.1',
  '::0:ffff:192.168.0.1',
  '::ffff:c0a8:1',
  '::ffff:c0a8:0001',
  '::FFFF:C0A8:1',
  '0:0:0:0:0:ffff:c0a8:1',
  '0:0:0::0:ffff:c0a8:1',
  '0000:0000:0000:0000:0000:ffff:C0a8:0001',
];

/** Valid addresses of no machine: the answer names the canonical form, whatever the spelling. */
const UNKNOWN: [string, string][] = [
  ['192.168.0.99', 'unknown IP 192.168.0.99'],
  ['::ffff:c0a8:63', 'unknown IP 192.168.0.99'],
  ['0:0:0:0:0:FFFF:192.168.0.99', 'unknown IP 192.168.0.99'],
  ['2001:db8::1', 'unknown IP 2001:db8::1'],
  ['2001:DB8:0:0:0:0:0:0001', 'unknown IP 2001:db8::1'],
  // IPv4-compatible (RFC 4291 §2.5.5.1, deprecated) and IPv4-translated are other addresses.
  ['::192.168.0.1', 'unknown IP ::c0a8:1'],
  ['::ffff:0:192.168.0.1', 'unknown IP ::ffff:0:c0a8:1'],
];

/** Refused spellings and the reason each gets. */
const INVALID: [string, RegExp][] = [
  ['192.168.000.1', /leading zero in an IPv4 octet/],
  ['192.168.0.01', /leading zero in an IPv4 octet/],
  ['::ffff:192.168.00.1', /embedded IPv4 part: leading zero/],
  ['192.168.0.256', /octet above 255/],
  ['192.168.1', /four decimal octets/],
  ['3232235521', /four decimal octets/],
  ['[::ffff:192.168.0.1]', /brackets/],
  ['[::ffff:192.168.0.1]:80', /brackets/],
  ['192.168.0.1:80', /a port does not belong/],
  ['fe80::1%eth0', /zone id/],
  ['::ffff:192.168.0.1%eth0', /zone id/],
  ['192.168.0.1, 10.0.0.1', /several addresses/],
  ['192.168. 0.1', /whitespace inside/],
  ['1::2::3', /malformed IPv6/],
  ['0:0:0:0:0:ffff:c0a8:1:2', /malformed IPv6/],
  ['12345::1', /malformed IPv6/],
  ['localhost', /not an address/],
];

t.test('X-Real-IP spellings through the real SSO endpoint', async (t) => {
  const gh = await startGatehouse(t, {
    secrets: { presencesyncPub: PUB, presencesyncSub: SUB },
    presence: { timeout: 30 },
  });
  await seed(gh.app.store, FIXTURE_MACHINES, FIXTURE_USERS);
  await presencePost(gh.baseUrl, '/heartbeat', { login: 'aproviste', hostname: 'pas-r01p01' });
  const ask = (ip: string | string[]) =>
    httpRequest(gh.baseUrl, { path: '/', host: 'sso', headers: { 'x-real-ip': ip } });

  for (const ip of SAME_MACHINE) {
    const r = await ask(ip);
    t.same(
      [r.status, r.headers['x-sso-status'], r.headers['x-sso-user']],
      [204, 'authenticated', 'aproviste'],
      `${JSON.stringify(ip)} is pas-r01p01`,
    );
  }
  for (const [ip, status] of UNKNOWN) {
    const r = await ask(ip);
    t.same([r.status, r.headers['x-sso-status']], [204, status], `${JSON.stringify(ip)}: ${status}`);
    t.notOk('x-sso-user' in r.headers);
  }
  for (const [ip, reason] of INVALID) {
    const r = await ask(ip);
    t.equal(r.status, 204, `${JSON.stringify(ip)}: still 204 (never deny)`);
    const status = String(r.headers['x-sso-status']);
    t.ok(status.startsWith('invalid X-Real-IP '), `${JSON.stringify(ip)} refused: ${status}`);
    t.match(status, reason);
    t.notOk('x-sso-user' in r.headers);
  }
  const twice = await ask(['192.168.0.1', '192.168.0.2']);
  t.match(String(twice.headers['x-sso-status']), /several addresses/, 'two X-Real-IP headers are refused');
  t.match(
    await gh.app.metrics.text(),
    new RegExp(`gatehouse_sso_lookups_total\\{outcome="invalid_ip"\\} ${INVALID.length + 1}`),
  );

  // Property through HTTP (few runs: each is a request): any mapped spelling is the machine.
  await fc.assert(
    fc.asyncProperty(mappedSpelling(fc.constant([192, 168, 0, 1])), async (spelling) => {
      const r = await ask(spelling);
      return r.headers['x-sso-status'] === 'authenticated' && r.headers['x-sso-user'] === 'aproviste';
    }),
    { numRuns: 60 },
  );
});

t.test('property: any IPv4 in any mapped spelling maps to the same machine', async (t) => {
  const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255));
  await fc.assert(
    fc.property(
      v4.chain((b) => fc.tuple(fc.constant(b), mappedSpelling(fc.constant(b)))),
      ([bytes, spelling]) => {
        const dotted = bytes.join('.');
        const tables = {
          ipToHost: new Map([[dotted, 'the-machine']]),
          hostToLogin: new Map([['the-machine', 'someone']]),
          overrides: new Map<string, string>(),
        };
        const parsed = parseClientIp(spelling);
        const answer = ssoLookup(spelling, tables);
        return parsed.ok && parsed.ip === dotted && answer.user === 'someone';
      },
    ),
    { numRuns: 5000 },
  );
  t.pass('5000 spellings');
});

t.test(
  'property: the canonical form of any IPv6 address is a fixed point and the same for all spellings',
  async (t) => {
    const words = fc.array(fc.oneof(fc.constant(0), fc.nat(0xffff)), { minLength: 8, maxLength: 8 });
    await fc.assert(
      fc.property(
        words.chain((w) => fc.tuple(fc.constant(w), spellWords(w, false), spellWords(w, false))),
        ([, a, b]) => {
          const pa = parseClientIp(a);
          const pb = parseClientIp(b);
          if (!pa.ok || !pb.ok) return false;
          const again = parseClientIp(pa.ip);
          return pa.ip === pb.ip && again.ok && again.ip === pa.ip;
        },
      ),
      { numRuns: 5000 },
    );
    t.pass('5000 address pairs');
  },
);

/** One 16-bit group in any case, with 0–3 leading zeros as long as it stays 4 digits at most. */
function spellGroup(w: number): fc.Arbitrary<string> {
  const hex = w.toString(16);
  return fc.tuple(fc.nat(4 - hex.length), fc.boolean()).map(([pad, upper]) => {
    const s = '0'.repeat(pad) + hex;
    return upper ? s.toUpperCase() : s;
  });
}

/**
 * Eight groups rendered with any RFC 4291 §2.2 choices: case, leading zeros, `::` over any run
 * of one or more zero groups, and (when `dottedTail`) the last 32 bits as a dotted quad.
 */
function spellWords(words: number[], dottedTail: boolean): fc.Arbitrary<string> {
  const hexCount = dottedTail ? 6 : 8;
  const runs: [number, number][] = [];
  for (let i = 0; i < hexCount; i++) {
    for (let j = i; j < hexCount && words[j] === 0; j++) runs.push([i, j + 1]);
  }
  const run = runs.length ? fc.option(fc.constantFrom(...runs), { nil: undefined }) : fc.constant(undefined);
  return fc.tuple(fc.tuple(...words.slice(0, hexCount).map(spellGroup)), run).map(([groups, r]) => {
    const tail = dottedTail
      ? [[words[6]! >> 8, words[6]! & 0xff, words[7]! >> 8, words[7]! & 0xff].join('.')]
      : [];
    if (!r) return [...groups, ...tail].join(':');
    const head = groups.slice(0, r[0]).join(':');
    const rest = [...groups.slice(r[1]), ...tail].join(':');
    return `${head}::${rest}`;
  });
}

/** Any RFC 4291 spelling of the IPv4-mapped address ::ffff:a.b.c.d. */
function mappedSpelling(bytes: fc.Arbitrary<number[]>): fc.Arbitrary<string> {
  return fc
    .tuple(bytes, fc.boolean())
    .chain(([[a, b, c, d], dotted]) =>
      spellWords([0, 0, 0, 0, 0, 0xffff, (a! << 8) | b!, (c! << 8) | d!], dotted),
    );
}
