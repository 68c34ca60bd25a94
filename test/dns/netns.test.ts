/**
 * Production shape in network namespaces (root only): `gatehouse serve` runs in the gateway
 * namespace listening on 192.168.1.254:53 and 192.168.250.254:53; a machine on the LAN gets
 * the normal view, a machine holding a real 192.168.250.x address gets the alien view
 * (scenario 29 without the loopback stand-in), over UDP and TCP.
 */
import path from 'node:path';
import t from 'tap';
import { allMigrations } from '../../src/migrations.js';
import { machinesTable } from '../../src/mdb/model.js';
import { Store } from '../../src/store/index.js';
import { createLan, needsRoot } from '../helpers/netns.js';
import { spawnGatehouse } from '../helpers/spawn-gatehouse.js';
import { tempDir } from '../helpers/tmp.js';
import { GW, machine } from './helpers.js';

t.test('alien and normal views from real addresses, on port 53', { skip: needsRoot }, async (t) => {
  const lan = await createLan({ prefix: 'ghdns', clients: 2 });
  t.teardown(() => lan.destroy());
  const [alien, contestant] = lan.clients as [(typeof lan.clients)[0], (typeof lan.clients)[0]];
  await alien.exec('ip', ['addr', 'add', '192.168.250.17/24', 'dev', 'eth0']);
  await contestant.exec('ip', ['addr', 'add', '192.168.0.1/23', 'dev', 'eth0']);

  const dir = tempDir(t, 'ghdns-ns-');
  const dataDir = path.join(dir, 'data');
  const store = await Store.open({ dir: dataDir, migrations: allMigrations });
  await store.write((tx) => {
    for (const m of [GW, machine('pas-r01p01', '192.168.0.1')]) tx.put(machinesTable(store), m.hostname, m);
  });
  await store.close();
  const gh = await spawnGatehouse({
    dir,
    netns: lan.gw,
    configYaml: `dataDir: ${dataDir}
demo: { seed: false }
http: { listen: ['127.0.0.1:0'] }
dns: { listen: ['192.168.1.254:53', '192.168.250.254:53'] }
dhcp: { enabled: false }
tftp: { enabled: false }
`,
  });
  t.teardown(() => gh.stop());

  const dig = async (ns: typeof alien, ...args: string[]) =>
    (await ns.exec('dig', ['+tries=1', '+time=3', ...args], { allowFail: true })).stdout;
  t.equal(
    (await dig(alien, '@192.168.250.254', '+short', 'netboot.prolo')).trim(),
    '192.168.250.254',
    'alien: netboot',
  );
  t.equal(
    (await dig(alien, '@192.168.250.254', '+short', '+tcp', 'ns.prolo')).trim(),
    '192.168.250.254',
    'alien: ns over TCP',
  );
  t.match(await dig(alien, '@192.168.250.254', 'mdb.prolo'), /status: NXDOMAIN/, 'alien: mdb is NXDOMAIN');
  t.equal(
    (await dig(contestant, '@192.168.1.254', '+short', 'mdb.prolo')).trim(),
    '192.168.1.254',
    'LAN: mdb',
  );
  t.equal(
    (await dig(contestant, '@192.168.1.254', '+short', 'netboot.prolo')).trim(),
    '192.168.1.254',
    'LAN: netboot',
  );
  t.equal(
    (await dig(contestant, '@192.168.1.254', '+short', '-x', '192.168.0.1')).trim(),
    'pas-r01p01.prolo.',
    'LAN: PTR',
  );
  t.match(await dig(contestant, '@192.168.1.254', '+tcp', 'nosuch.prolo'), /status: NXDOMAIN/);
});
