import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { runCli } from '../../src/cli/main.js';
import { defaultConfig, parseConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors.js';
import { tempDir } from '../helpers/tmp.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

t.test('embedded defaults need no file', async (t) => {
  const c = defaultConfig();
  t.equal(c.dataDir, './data');
  t.same(c.http.listen, ['127.0.0.1:8080']);
  t.equal(c.network.domain, 'prolo');
  t.equal(c.timeauth.enabled, true);
  t.not(c.secrets.mdbsyncPub, c.secrets.mdbsyncSub, 'pub and sub secrets are distinct');
});

t.test('errors name file:line and the reason', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['dns:\n  enabled: true\n  lisen: x\n', /^g\.yml:3: unknown key "lisen" in dns/],
    ['http:\n  listen:\n    - "nope"\n', /^g\.yml:3: http\.listen\.0: expected host:port/],
    ['network:\n  lan: 1.2.3\n', /^g\.yml:2: network\.lan: expected an IPv4 network/],
    ['tftp: [\n', /^g\.yml:\d+: YAML syntax error/],
    ['secrets:\n  mdbsyncPub: ""\n', /^g\.yml:2: secrets\.mdbsyncPub: a shared secret cannot be empty/],
    ['nosuchsection: 1\n', /^g\.yml:1: unknown key "nosuchsection"/],
    ['- a\n- b\n', /^g\.yml:1: the configuration must be a mapping/],
  ];
  for (const [text, re] of cases) {
    t.throws(() => parseConfig(text, 'g.yml'), ConfigError);
    try {
      parseConfig(text, 'g.yml');
    } catch (e) {
      t.match((e as Error).message, re, JSON.stringify(text));
    }
  }
  t.equal(parseConfig('', 'empty.yml').dataDir, './data', 'an empty file means defaults');
});

t.test('check-config validates without starting and exits non-zero on errors', async (t) => {
  const dir = tempDir(t);
  const good = path.join(dir, 'good.yml');
  const bad = path.join(dir, 'bad.yml');
  fs.writeFileSync(good, 'dataDir: /tmp/x\nsecrets:\n  adminToken: s3cret-token\n');
  fs.writeFileSync(bad, 'dns:\n  listen: [ "127.0.0.1:53", "bogus" ]\n');
  let c = capture();
  t.equal(await runCli(['check-config', good], c.io), 0);
  t.match(c.out.join('\n'), /good\.yml: ok/);
  t.match(c.err.join('\n'), /warning: secrets\.mdbsyncPub is the demo default/);
  c = capture();
  t.equal(await runCli(['check-config', bad], c.io), 1);
  t.match(c.err.join('\n'), /bad\.yml:2: dns\.listen\.1: expected host:port/);
  c = capture();
  t.equal(await runCli(['check-config', path.join(dir, 'missing.yml')], c.io), 1);
  t.match(c.err.join('\n'), /cannot read the configuration file/);
  c = capture();
  t.equal(await runCli(['nosuch'], c.io), 2);
  t.equal(await runCli(['version'], c.io), 0);
});
