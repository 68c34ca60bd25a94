import t from 'tap';
import { Gatehouse } from '../../src/app.js';
import { defaultConfig } from '../../src/config/index.js';
import { deleteMachine, listMachines } from '../../src/mdb/machines.js';
import { createMemoryLogger } from '../../src/log.js';
import { startGatehouse } from '../helpers/gatehouse.js';
import { tempDir } from '../helpers/tmp.js';
import { rpcCall } from '../rpc/rpc-client.js';

t.test('demo seed: first start of an empty store only', async (t) => {
  const gh = await startGatehouse(t, { demo: { seed: true } });
  const machines = gh.app.store.read((tx) => listMachines(tx));
  const gw = machines.find((m) => m.hostname === 'gw');
  t.match(gw, {
    ip: '192.168.1.254',
    mac: '11:22:33:44:55:66',
    mtype: 'service',
    room: 'pasteur',
    aliases: 'mdb,mdbsync,ns,netboot,udb,udbsync,presencesync,ntp,sso',
  });
  t.match(
    machines.find((m) => m.aliases.split(',').includes('rfs0')),
    { aliases: 'rhfs,rhfs0,hfs0,rfs0', ip: '192.168.1.10' },
  );
  t.ok(machines.filter((m) => m.mtype === 'user').length >= 3);
  const sw = await rpcCall(gh.baseUrl, 'mdb', 'switches');
  t.equal((sw.body.data as unknown[]).length, 1);
});

t.test('a store that was seeded (or has machines) is never re-seeded', async (t) => {
  const dataDir = tempDir(t);
  const start = () =>
    Gatehouse.start({
      config: defaultConfig({
        dataDir,
        demo: { seed: true },
        http: { listen: ['127.0.0.1:0'] },
        dns: { listen: ['127.0.0.1:0'] },
        dhcp: { listen: '127.0.0.1:0' },
        tftp: { listen: ['127.0.0.1:0'] },
      }),
      logger: createMemoryLogger(),
    });
  let app = await start();
  const n = app.store.read((tx) => listMachines(tx)).length;
  t.ok(n > 0);
  await app.store.write((tx) => {
    for (const m of listMachines(tx)) deleteMachine(tx, m.hostname);
  });
  await app.stop();
  app = await start();
  t.equal(
    app.store.read((tx) => listMachines(tx)).length,
    0,
    'deleting every machine does not bring the demo back',
  );
  await app.stop();
});

t.test(
  'demo.seed false leaves the store empty; migrations create pools and the registration switch',
  async (t) => {
    const gh = await startGatehouse(t, { demo: { seed: false } });
    t.equal(gh.app.store.read((tx) => listMachines(tx)).length, 0);
    const r = await rpcCall(gh.baseUrl, 'mdb', 'register', {
      args: ['pas-r01p01', 'aa:bb:cc:dd:ee:01', 0, 0, 'pasteur', 'user'],
    });
    t.equal(r.body.data, '192.168.0.1', 'self-registration is enabled on a fresh install');
  },
);
