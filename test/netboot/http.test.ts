import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { request } from 'undici';
import type { GatehouseConfigInput } from '../../src/config/index.js';
import { createMachine } from '../../src/mdb/machines.js';
import type { Machine } from '../../src/mdb/model.js';
import { createSwitch } from '../../src/mdb/switches.js';
import { startGatehouse } from '../helpers/gatehouse.js';
import { machineRecord } from '../helpers/records.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Scenarios 38–43 (spec §18) and the boot-file hosts over real HTTP. Registration scenarios
 * (44, 45) are in register.test.ts.
 */

function machine(over: Partial<Machine>): Machine {
  return machineRecord({ hostname: 'm', ip: '192.168.0.1', mac: '00:00:00:00:00:01', ...over });
}

type TeardownHost = { teardown(fn: () => void | Promise<void>): void };

const OPTIONS =
  'root=/dev/nfs ip=${ip}:${next-server}:${gateway}:${netmask}:${hostname}.prolo:eth0:none nosplash rootdelay=0';

async function setup(t: TeardownHost, netboot: NonNullable<GatehouseConfigInput>['netboot'] = {}) {
  const gh = await startGatehouse(t, { netboot });
  const store = gh.app.store;
  await store.write((tx) => {
    for (const x of [
      machine({
        hostname: 'rhfs0',
        ip: '192.168.1.10',
        mac: 'aa:00:00:00:00:10',
        aliases: 'rhfs,rhfs0,hfs0,rfs0',
        mtype: 'service',
      }),
      machine({ hostname: 'pas-r01p01', ip: '192.168.0.1', mac: 'aa:bb:cc:dd:ee:01' }),
      machine({
        hostname: 'pas-r01p02',
        ip: '192.168.0.2',
        mac: 'aa:bb:cc:dd:ee:02',
        is_faulty: true,
        is_faulty_details: 'bad RAM',
      }),
      machine({ hostname: 'pas-r01p03', ip: '192.168.0.3', mac: 'aa:bb:cc:dd:ee:03', rfs: 3 }),
    ]) {
      createMachine(tx, { ...x });
    }
  });
  const get = async (p: string, host = 'netboot') => {
    const r = await request(`${gh.baseUrl}${p}`, { headers: { host } });
    return { status: r.statusCode, type: String(r.headers['content-type']), body: await r.body.text() };
  };
  return { gh, store, get };
}

t.test('38/39: known machine gets the kernel and initrd of its RFS, fallback from config', async (t) => {
  for (const fallback of [true, false]) {
    const { get, gh } = await setup(t, { fallback });
    const r = await get('/boot/aa:bb:cc:dd:ee:01/');
    t.equal(r.status, 200);
    t.match(r.type, /^text\/plain/);
    const initrd = fallback ? 'initramfs-linux-fallback.img' : 'initramfs-linux.img';
    t.match(r.body, /^#!ipxe\n/);
    t.match(r.body, `\ninitrd http://rfs0/boot/${initrd}\n`);
    t.match(
      r.body,
      `\nboot http://rfs0/boot/vmlinuz-linux nfsroot=192.168.1.10:/export/nfsroot,ro ${OPTIONS}\n`,
    );
    // iPXE percent-encodes the colons of ${mac}.
    const encoded = await get('/boot/aa%3Abb%3Acc%3Add%3Aee%3A01/');
    t.equal(encoded.body, r.body, 'percent-encoded MAC finds the same machine');
    t.ok(
      gh.logs.some(
        (l) =>
          l.event === 'netboot.request' &&
          l.endpoint === 'boot' &&
          l.outcome === 'boot' &&
          l.hostname === 'pas-r01p01',
      ),
      'one log line per request',
    );
  }
});

t.test('40: unknown MAC sleeps 30 and reboots; no trailing slash is 404', async (t) => {
  const { get } = await setup(t);
  const r = await get('/boot/02:00:00:00:00:99/');
  t.equal(r.status, 200);
  t.match(r.body, /^#!ipxe\n(echo [^\n]*\n)+sleep 30\nreboot\n$/);
  t.match(r.body, 'MDB');
  t.equal((await get('/boot/aa:bb:cc:dd:ee:01')).status, 404);
  t.equal((await get('/nosuch')).status, 404);
  const post = await request(`${(await setup(t)).gh.baseUrl}/bootstrap`, {
    method: 'POST',
    headers: { host: 'netboot' },
    body: '',
  });
  t.equal(post.statusCode, 405);
  await post.body.dump();
});

t.test('41: faulty machine shows the reason, sleeps 60 and reboots', async (t) => {
  const { get } = await setup(t);
  const r = await get('/boot/aa:bb:cc:dd:ee:02/');
  t.equal(r.status, 200);
  t.match(r.body, /echo Reason: bad RAM\necho\nsleep 60\nreboot\n$/);
});

t.test('42: missing RFS alias gives the registration error script', async (t) => {
  const { get } = await setup(t);
  const r = await get('/boot/aa:bb:cc:dd:ee:03/');
  t.equal(r.status, 200);
  t.match(r.body, 'No such RFS: rfs3');
  t.match(r.body, /sleep 30\nreboot\n$/);
});

t.test('43: bootstrap carries the switch table in (rfs, hfs, name) order', async (t) => {
  const { get, store, gh } = await setup(t);
  const empty = await get('/bootstrap');
  t.equal(empty.status, 200);
  t.match(empty.type, /^text\/plain/);
  t.match(empty.body, 'Prologin netboot environment');
  t.notMatch(empty.body, 'set sw_name_');
  await store.write((tx) => {
    createSwitch(tx, { name: 'S2', chassis: '68:B5:99:9F:45:41', rfs: 1, hfs: 1, room: 'alt' });
    createSwitch(tx, { name: 'S1', chassis: '68:b5:99:9f:45:40', rfs: 0, hfs: 0, room: 'pasteur' });
  });
  const r = await get('/bootstrap');
  t.match(
    r.body,
    'set sw_name_0 68:b5:99:9f:45:40\nset sw_rfs_0 0\nset sw_hfs_0 0\nset sw_room_0 pasteur\n\n' +
      'set sw_name_1 68:b5:99:9f:45:41\nset sw_rfs_1 1\nset sw_hfs_1 1\nset sw_room_1 alt\n',
  );
  t.match(r.body, 'Prologin netboot environment');
  t.match(r.body, 'chain http://netboot/boot/${mac}/');
  // The rest of the script is the same as without switches.
  t.equal(
    r.body.replace(/set sw_[^\n]*\n\n?/g, ''),
    empty.body.replace('set timeout 60\n\n', 'set timeout 60\n'),
  );
  const metrics = await request(`${gh.baseUrl}/metrics`);
  t.match(
    await metrics.body.text(),
    /gatehouse_netboot_requests_total\{endpoint="bootstrap",outcome="served"\} 2/,
  );
});

t.test('machine changes are seen by the next request (snapshot invalidated on commit)', async (t) => {
  const { get, store } = await setup(t);
  t.match((await get('/boot/02:00:00:00:00:42/')).body, 'not in MDB');
  await store.write((tx) =>
    createMachine(tx, { ...machine({ hostname: 'late', ip: '192.168.0.42', mac: '02:00:00:00:00:42' }) }),
  );
  t.match((await get('/boot/02:00:00:00:00:42/')).body, 'initrd http://rfs0/boot/');
});

t.test('after a change the snapshot is rebuilt off the request path, ahead of the next request', async (t) => {
  const gh = await startGatehouse(t);
  const store = gh.app.store;
  const view = (gh.app.service('netboot') as unknown as { view: { snapshot: unknown } }).view;
  t.ok(view.snapshot, 'built at start, before any request');
  await store.write((tx) =>
    createMachine(tx, { ...machine({ hostname: 'late', ip: '192.168.0.42', mac: '02:00:00:00:00:42' }) }),
  );
  t.notOk(view.snapshot, 'dropped by the commit');
  await new Promise((r) => setTimeout(r, 1000));
  t.ok(view.snapshot, 'rebuilt without a request (the warmed-up handler never rebuilds it)');
});

t.test('boot files on the RFS hosts: served from the configured root, confined to it', async (t) => {
  const root = tempDir(t);
  const outside = tempDir(t);
  fs.writeFileSync(path.join(root, 'vmlinuz-linux'), Buffer.alloc(70_000, 7));
  fs.writeFileSync(path.join(root, 'initramfs-linux.img'), 'initrd');
  fs.writeFileSync(path.join(outside, 'secret'), 'secret');
  fs.symlinkSync(path.join(outside, 'secret'), path.join(root, 'escape'));
  fs.mkdirSync(path.join(root, 'sub'));
  const { gh } = await setup(t, { bootFiles: { root } });
  const get = async (p: string, host = 'rfs0', method: 'GET' | 'HEAD' = 'GET') => {
    const r = await request(`${gh.baseUrl}${p}`, { headers: { host }, method });
    const body = Buffer.from(await r.body.arrayBuffer());
    return { status: r.statusCode, body, length: r.headers['content-length'] };
  };
  const kernel = await get('/boot/vmlinuz-linux');
  t.equal(kernel.status, 200);
  t.same(kernel.body, Buffer.alloc(70_000, 7));
  t.equal((await get('/boot/initramfs-linux.img', 'rhfs0.prolo:80')).body.toString(), 'initrd');
  const head = await get('/boot/vmlinuz-linux', 'rfs0', 'HEAD');
  t.equal(head.status, 200);
  t.equal(head.length, '70000');
  for (const p of [
    '/boot/escape',
    '/boot/../boot/escape',
    '/boot/%2e%2e/%2e%2e/etc/passwd',
    '/boot/..%2f..%2fetc%2fpasswd',
    '/boot/sub',
    '/boot/',
    '/boot/nosuch',
    '/etc/passwd',
    '/boot/sub/..%2fvmlinuz-linux',
    '/boot/%00',
  ]) {
    t.equal((await get(p)).status, 404, p);
  }
  t.equal((await get('/boot/vmlinuz-linux', 'rfs1')).status, 404, 'rfs1 is not configured: default host');
  t.ok(
    gh.logs.some((l) => l.event === 'netboot.file' && l.status === 200 && l.bytes === 70_000),
    'file transfers are logged',
  );
});
