/**
 * `gatehouse zone export NAME` prints an RFC 1035 master file that named-checkzone accepts,
 * with the serial the server serves; run in-process on a stopped store and as a real CLI
 * process next to a running server.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { runCli } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/io.js';
import { repoRoot } from '../helpers/spawn-gatehouse.js';
import { tempDir } from '../helpers/tmp.js';
import { GW, machine, run, startDns } from './helpers.js';

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { out: (l) => out.push(l), err: (l) => err.push(l) };
  const code = await runCli(argv, io);
  return { code, out: out.join('\n') + '\n', err: err.join('\n') };
}

const machines = [
  GW,
  machine('pas-r01p01', '192.168.0.1', { aliases: 'a,b' }),
  machine('alt-r01p02.cl', '192.168.0.2'),
  machine('node01', '192.168.2.1', { mtype: 'cluster' }),
];

t.test('every zone exports as a master file named-checkzone accepts', async (t) => {
  const fx = await startDns(t, {
    dns: { listen: ['127.0.0.1:0'], static: [{ name: 'txt', type: 'TXT', value: '"a \\"quoted\\" text"' }] },
  });
  await fx.put(...machines);
  const served = fx.dns.snapshot.views.normal.byName.get('prolo')!.zone.serial;
  const dataDir = fx.config.dataDir;
  await fx.app.stop();
  const dir = tempDir(t);
  // The CLI reads the same configuration as the server (static records are part of the zone).
  const configFile = path.join(dir, 'gatehouse.yml');
  fs.writeFileSync(
    configFile,
    `dataDir: ${dataDir}\ndns:\n  static:\n    - { name: txt, type: TXT, value: '"a \\"quoted\\" text"' }\n`,
  );
  const list = await cli(['zone', 'list', '--config', configFile]);
  t.equal(list.code, 0, list.err);
  t.match(list.out, new RegExp(`normal\tprolo\t${served}\t\\d+ records\n`), 'served serial, content matches');
  for (const [zone, view] of [
    ['prolo', 'normal'],
    ['prolo', 'alien'],
    ['0.168.192.in-addr.arpa', 'normal'],
    ['1.168.192.in-addr.arpa', 'normal'],
    ['2.168.192.in-addr.arpa', 'normal'],
    ['250.168.192.in-addr.arpa', 'normal'],
    ['localhost', 'normal'],
    ['127.in-addr.arpa', 'normal'],
  ]) {
    const r = await cli(['zone', 'export', zone!, '--view', view!, '--config', configFile]);
    t.equal(r.code, 0, `${view}/${zone} exported`);
    const file = path.join(dir, `${view}-${zone}.zone`);
    fs.writeFileSync(file, r.out);
    const check = await run('named-checkzone', ['-i', 'full', zone!, file]);
    t.equal(
      check.code,
      0,
      `named-checkzone ${zone} (${view}): ${check.stdout.trim()} ${check.stderr.trim()}`,
    );
    t.match(check.stdout, /OK/);
  }
  const prolo = (await cli(['zone', 'export', 'prolo', '--config', configFile])).out;
  t.match(prolo, /^\$ORIGIN prolo\.$/m);
  t.match(prolo, /^\$TTL 10$/m);
  t.match(
    prolo,
    new RegExp(`^@\tIN\tSOA\tns\\.prolo\\. hostmaster\\.ns\\.prolo\\. ${served} 1200 60 360000 10$`, 'm'),
    '§4.2 SOA line',
  );
  t.match(prolo, /^mdb\tIN\tA\t192\.168\.1\.254$/m, 'relative owners, tab-separated');
  t.match(prolo, /^alt-r01p02\.cl\tIN\tA\t192\.168\.0\.2$/m);
  t.match(prolo, /^txt\tIN\tTXT\t"a \\"quoted\\" text"$/m);
  const alien = (await cli(['zone', 'export', 'prolo', '--view', 'alien', '--data', dataDir])).out;
  t.same(
    alien.split('\n').filter((l) => /\tA\t/.test(l)),
    ['netboot\tIN\tA\t192.168.250.254', 'ns\tIN\tA\t192.168.250.254'],
  );
  const rev = (await cli(['zone', 'export', '250.168.192.in-addr.arpa', '--data', dataDir])).out;
  t.match(rev, /^17\tIN\tPTR\tunknown-17\.alien\.prolo\.$/m);
  const missing = await cli(['zone', 'export', 'nosuch', '--data', dataDir]);
  t.equal(missing.code, 1);
  t.match(missing.err, /no zone "nosuch"/);
  t.equal((await cli(['zone', 'frobnicate', '--data', dataDir])).code, 2, 'usage error');
});

t.test('a zone changed while the server is down shows the serial the server will assign', async (t) => {
  const fx = await startDns(t, { dns: { listen: ['127.0.0.1:0'] } });
  await fx.put(GW, machine('pas-r01p01', '192.168.0.1'));
  const served = fx.dns.snapshot.views.normal.byName.get('prolo')!.zone.serial;
  const dataDir = fx.config.dataDir;
  await fx.app.stop();
  const { Store } = await import('../../src/store/index.js');
  const { allMigrations } = await import('../../src/migrations.js');
  const { machinesTable } = await import('../../src/mdb/model.js');
  const store = await Store.open({ dir: dataDir, migrations: allMigrations });
  await store.write((tx) => tx.put(machinesTable(store), 'x', machine('x', '192.168.0.77')));
  await store.close();
  const out = (await cli(['zone', 'export', 'prolo', '--data', dataDir])).out;
  t.match(out, new RegExp(`SOA\tns\\.prolo\\. hostmaster\\.ns\\.prolo\\. ${served + 1} `));
  t.match(out, new RegExp(`serial ${served + 1} is the one the server assigns at its next build`));
  const again = await startDns(t, { dataDir, dns: { listen: ['127.0.0.1:0'] } });
  t.equal(again.dns.snapshot.views.normal.byName.get('prolo')!.zone.serial, served + 1, 'and it does');
});

t.test('the real CLI beside a running server prints the served serial', async (t) => {
  const fx = await startDns(t, { dns: { listen: ['127.0.0.1:0'] } });
  await fx.put(GW);
  await fx.put(machine('pas-r01p01', '192.168.0.1'));
  const served = fx.dns.snapshot.views.normal.byName.get('prolo')!.zone.serial;
  const r = await run(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(repoRoot, 'src/cli/main.ts'),
      'zone',
      'export',
      'prolo',
      '--data',
      fx.config.dataDir,
    ],
    30_000,
  );
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, new RegExp(`SOA\\tns\\.prolo\\. hostmaster\\.ns\\.prolo\\. ${served} `));
  t.match(r.stdout, /^pas-r01p01\tIN\tA\t192\.168\.0\.1$/m);
});
