import fc from 'fast-check';
import t from 'tap';
import { parse } from 'yaml';
import { quickConfig } from '../../src/cli/quick-config.js';

/** What the real parser reads for the two keys, or 'error' when it refuses the text. */
function yamlReads(text: string): { dataDir: unknown; adminToken: unknown } | 'error' {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch {
    return 'error';
  }
  const o = (doc ?? {}) as { dataDir?: unknown; secrets?: { adminToken?: unknown } | null };
  if (typeof o !== 'object' || Array.isArray(o)) return 'error';
  return { dataDir: o.dataDir, adminToken: o.secrets?.adminToken };
}

t.test('the layout of the README and of the tests is read without the YAML parser', async (t) => {
  const text = [
    '# gatehouse.yml',
    'dataDir: /var/lib/gatehouse          # LMDB store',
    'log: { level: info }',
    'network:',
    '  domain: prolo',
    '  trusted: [192.168.0.0/16, 127.0.0.0/8]',
    'secrets:                             # distinct per feed',
    '  mdbsyncPub: "a b"',
    "  adminToken: 'it''s secret'",
    'dns:',
    '  zones:',
    '    - name: prolo',
    '',
  ].join('\n');
  t.same(quickConfig(text), { dataDir: '/var/lib/gatehouse', adminToken: "it's secret" });
  t.same(quickConfig(''), {});
  t.same(quickConfig('---\ndataDir: "/srv/g h"\r\n'), { dataDir: '/srv/g h' });
});

t.test('layouts it does not understand are left to the YAML parser', async (t) => {
  for (const text of [
    '{dataDir: /x}',
    'dataDir: /x\n  continued',
    'dataDir:\n  /x',
    'dataDir: &a /x',
    'dataDir: 123',
    'dataDir: true',
    'dataDir: null',
    'dataDir: "/x\\u0041"',
    'secrets: { adminToken: t }',
    'secrets:\n  adminToken: |\n    t',
    'secrets:\n  <<: *base\n  adminToken: t',
    'secrets:\n    mdbsyncPub: a\n  adminToken: t',
    'dataDir: /a\ndataDir: /b',
    '"dataDir": /x',
    '---\ndataDir: /x\n---\ndataDir: /y',
    '%YAML 1.2\n---\ndataDir: /x',
    'dataDir: /x: y',
    'dataDir: !!str 5',
  ]) {
    t.equal(quickConfig(text), undefined, JSON.stringify(text));
  }
});

const scalarText = fc.oneof(
  fc.stringMatching(/^[ -~]{0,12}$/),
  fc.constantFrom(
    './data',
    '/var/lib/gatehouse',
    'demo-admin-token',
    '0x1F',
    '1e3',
    '.5',
    '~',
    'yes',
    'off',
    '-x',
    'a #b',
    'a#b',
    "it's",
    'x: y',
    '@x',
    '%x',
  ),
);
const spelling = fc.oneof(
  scalarText,
  scalarText.map((s) => `'${s.replaceAll("'", "''")}'`),
  scalarText.map((s) => JSON.stringify(s)),
  scalarText.map((s) => `${s}  # comment`),
);
const otherSection = fc.constantFrom(
  'log: { level: warn }',
  'network:\n  domain: prolo\n  trusted:\n    - 10.0.0.0/8',
  'dns:\n  listen: ["127.0.0.1:0"]\n  notes: |\n    dataDir: /not/this\n    adminToken: no',
  'demo: { seed: false }',
  '# a comment',
  '',
);

t.test('property: whenever it answers, it answers what the YAML parser reads', async (t) => {
  let answered = 0;
  let accepted = 0;
  fc.assert(
    fc.property(
      fc.option(spelling, { nil: undefined }),
      fc.option(spelling, { nil: undefined }),
      fc.array(fc.tuple(fc.constantFrom('mdbsyncPub', 'udbsyncSub'), spelling), { maxLength: 2 }),
      fc.array(otherSection, { maxLength: 3 }),
      fc.constantFrom('  ', '    '),
      fc.boolean(),
      (dataDir, token, otherSecrets, others, indent, crlf) => {
        const lines: string[] = [...others];
        if (dataDir !== undefined) lines.splice(lines.length >> 1, 0, `dataDir: ${dataDir}`);
        const secrets = otherSecrets.map(([k, v]) => `${indent}${k}: ${v}`);
        if (token !== undefined) secrets.splice(secrets.length >> 1, 0, `${indent}adminToken: ${token}`);
        if (secrets.length > 0) lines.push('secrets:', ...secrets);
        const text = lines.join(crlf ? '\r\n' : '\n');
        const quick = quickConfig(text);
        if (quick === undefined) return;
        answered++;
        const real = yamlReads(text);
        // A file YAML refuses is not a configuration any command runs with: only agreement
        // on the files it accepts matters (the quick reading skips the other sections).
        if (real === 'error') return;
        accepted++;
        if (quick.dataDir !== real.dataDir || quick.adminToken !== real.adminToken)
          throw new Error(`quick read ${JSON.stringify(quick)}, YAML ${JSON.stringify(real)}:\n${text}`);
      },
    ),
    { numRuns: 2000 },
  );
  t.ok(
    accepted > 500,
    `it answered ${answered} of 2000 generated files itself, ${accepted} of them valid YAML`,
  );
});
