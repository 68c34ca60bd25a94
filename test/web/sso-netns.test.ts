import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { generateToken } from '../../src/sync/timeauth.js';
import { createLan, isRoot, needsRoot } from '../helpers/netns.js';
import { spawnGatehouse } from '../helpers/spawn-gatehouse.js';
import { tempDir } from '../helpers/tmp.js';
import { missingCommands } from '../helpers/tools.js';
import { browserMissing, CHROMIUM, launchBrowser } from './browser.js';

const PUB = 'aw-presence-pub';
const GW = '192.168.1.254';
const skip = !isRoot ? needsRoot : browserMissing || missingCommands(['curl']);

t.test(
  'SSO: the browser of a LAN machine where a root is logged in is signed in without a form',
  { skip },
  async (t) => {
    const lan = await createLan({ prefix: 'aw', clients: 1 });
    t.teardown(() => lan.destroy());
    const pc = lan.clients[0]!;
    // pas-r01p01 of the demo data has 192.168.0.1: SSO maps this address to that machine.
    await pc.exec('ip', ['addr', 'add', '192.168.0.1/23', 'dev', 'eth0']);
    const dir = tempDir(t);
    const gh = await spawnGatehouse({
      dir,
      netns: lan.gw,
      configYaml: [
        `dataDir: ${path.join(dir, 'data')}`,
        'demo: { seed: true }',
        `http: { listen: ['${GW}:80'] }`,
        "dns: { listen: ['127.0.0.1:0'] }",
        "tftp: { listen: ['127.0.0.1:0'] }",
        "dhcp: { listen: '127.0.0.1:0' }",
        `secrets: { presencesyncPub: ${PUB} }`,
        '',
      ].join('\n'),
    });
    t.teardown(() => gh.stop());
    const heartbeat = async (login: string) => {
      const data = JSON.stringify({ login, hostname: 'pas-r01p01' });
      const r = await pc.exec('curl', [
        '-s',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '-H',
        'Host: presencesync',
        '--data-urlencode',
        `data=${data}`,
        '--data-urlencode',
        `hmac=${generateToken(PUB, data)}`,
        `http://${GW}/heartbeat`,
      ]);
      t.equal(r.stdout, '200', `heartbeat of ${login}`);
    };
    await heartbeat('root_gw');

    // The browser runs on the machine itself: inside the client namespace.
    const wrapper = path.join(dir, 'chromium-in-netns.sh');
    fs.writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${pc.name} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
    const b = await launchBrowser(t, { executable: wrapper, hostRules: `MAP mdb ${GW}, MAP udb ${GW}` });
    const page = await b.newPage();
    await page.goto('http://mdb/');
    t.equal(await page.title(), 'Machines · Gatehouse', 'straight to the machines, no sign-in form');
    t.match(await page.textContent('nav.top'), /root_gw/);
    await page.click('text=Users (UDB)');
    await page.waitForURL('http://udb/');
    t.equal(await page.title(), 'Users · Gatehouse', 'the other admin host follows');

    // A contestant takes the machine over: the SSO session of the root ends with it.
    await heartbeat('aproviste');
    const r = await page.goto('http://mdb/machines/new');
    t.equal(r?.status(), 403);
    t.match(await page.textContent('.refusal'), /aproviste.*organizers and roots only/s);
    t.same(b.incidents, []);
  },
);
