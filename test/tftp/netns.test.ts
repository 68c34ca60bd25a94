/**
 * Across network namespaces, as on the contest gateway: Gatehouse in the gateway namespace
 * listening on both gateway addresses (192.168.1.254 and 192.168.250.254 on one LAN interface),
 * clients in their own namespaces behind a bridge. Real clients fetch identical files, and a
 * reply always leaves from the address the request was sent to, even where routing alone would
 * pick the other one.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { createLan, needsRoot } from '../helpers/netns.js';
import { repoRoot, spawnGatehouse } from '../helpers/spawn-gatehouse.js';
import { tempDir } from '../helpers/tmp.js';
import { makeRoot } from './helpers.js';

const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

t.test(
  'gateway namespace serves two subnets; clients in other namespaces',
  { skip: needsRoot },
  async (t) => {
    const { root, bytes } = makeRoot(t, { 'prologin.kpxe': 74_320, 'arch.kpxe': 2_000_000 });
    const lan = await createLan({ prefix: 'ghtftp', clients: 2 });
    t.teardown(() => lan.destroy());
    const [c0, c1] = lan.clients as [(typeof lan.clients)[0], (typeof lan.clients)[0]];
    await c0.exec('ip', ['addr', 'add', '192.168.1.10/23', 'dev', 'eth0']);
    await c1.exec('ip', ['addr', 'add', '192.168.250.10/24', 'dev', 'eth0']);
    // c0 also reaches the alien-subnet address of the gateway on-link: the gateway's routing would
    // answer it from 192.168.1.254 (the address of c0's subnet) unless the reply socket is bound.
    await c0.exec('ip', ['route', 'add', '192.168.250.254/32', 'dev', 'eth0']);

    const dir = tempDir(t, 'ghtftp-ns-');
    const gh = await spawnGatehouse({
      dir,
      netns: lan.gw,
      configYaml: [
        `dataDir: ${path.join(dir, 'data')}`,
        'http:',
        "  listen: ['127.0.0.1:0']",
        'dns:',
        '  enabled: false',
        'dhcp:',
        '  enabled: false',
        'tftp:',
        `  root: ${root}`,
        "  listen: ['192.168.1.254:69', '192.168.250.254:69']",
        '',
      ].join('\n'),
    });
    t.teardown(() => gh.stop());
    const out = tempDir(t, 'ghtftp-ns-out-');

    const check = (file: string, name: string) => {
      const got = fs.readFileSync(path.join(out, name));
      t.equal(sha(got), sha(bytes[file]!), `${name}: ${got.length} bytes identical`);
    };
    // tftp-hpa, atftp and curl from each subnet.
    for (const [ns, server, tag] of [
      [c0, '192.168.1.254', 'c0'],
      [c1, '192.168.250.254', 'c1'],
    ] as const) {
      const hpa = await ns.exec('tftp', [
        server,
        '69',
        '-m',
        'binary',
        '-c',
        'get',
        'arch.kpxe',
        path.join(out, `${tag}-hpa`),
      ]);
      t.equal(hpa.code, 0);
      check('arch.kpxe', `${tag}-hpa`);
      await ns.exec('atftp', [
        '--option',
        'blksize 1456',
        '--option',
        'tsize 0',
        '-g',
        '-r',
        'prologin.kpxe',
        '-l',
        path.join(out, `${tag}-atftp`),
        server,
        '69',
      ]);
      check('prologin.kpxe', `${tag}-atftp`);
      await ns.exec('curl', ['-sS', '-o', path.join(out, `${tag}-curl`), `tftp://${server}/prologin.kpxe`]);
      check('prologin.kpxe', `${tag}-curl`);
    }

    // Where the replies come from, seen by the client.
    const get = async (ns: typeof c0, server: string, file: string) => {
      const r = await ns.exec(
        process.execPath,
        [
          '--import',
          'tsx',
          path.join(repoRoot, 'test/tftp/fixtures/tftp-get.ts'),
          server,
          '69',
          file,
          '{"tsize":0,"blksize":1456}',
        ],
        {
          timeoutMs: 30_000,
        },
      );
      return JSON.parse(r.stdout.trim()) as {
        ok: boolean;
        sha256?: string;
        server: { address: string };
        oack?: Record<string, string>;
        code?: number;
      };
    };
    const same = await get(c1, '192.168.250.254', 'prologin.kpxe');
    t.match(same, {
      ok: true,
      server: { address: '192.168.250.254' },
      oack: { tsize: '74320', blksize: '1456' },
    });
    t.equal(same.sha256, sha(bytes['prologin.kpxe']!));
    const cross = await get(c0, '192.168.250.254', 'prologin.kpxe');
    t.match(
      cross,
      { ok: true, server: { address: '192.168.250.254' } },
      'c0 asked 192.168.250.254 and got replies from it',
    );
    t.equal(cross.sha256, sha(bytes['prologin.kpxe']!));
    const missing = await get(c0, '192.168.1.254', 'missing.bin');
    t.match(missing, { ok: false, code: 1, server: { address: '192.168.1.254' } });

    const line = await gh.waitForLog(
      (l) =>
        l.event === 'tftp.transfer' &&
        String(l.client).startsWith('192.168.1.10:') &&
        l.local === '192.168.250.254',
    );
    t.match(
      line,
      { result: 'ok', file: 'prologin.kpxe' },
      'server logged the cross-subnet transfer on 192.168.250.254',
    );
  },
);
