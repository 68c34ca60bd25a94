import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { hasCommand } from '../helpers/tools.js';
import { encodeLldpdu } from '../../src/lldp/codec.js';
import type { Neighbour } from '../../src/lldp/neighbours.js';
import { waitForLog } from '../e2e/wait-log.js';
import { createLan, isRoot } from '../helpers/netns.js';
import { repoRoot, spawnGatehouse } from '../helpers/spawn-gatehouse.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * A real lldpd in a neighbour namespace, Gatehouse (spawned in the gateway namespace, which owns
 * lan0) listening through nftables netdev ingress → nfnetlink_log.
 */
const skip = !isRoot
  ? 'needs root (network namespaces, nftables); CI runs as root'
  : !hasCommand('lldpd') || !hasCommand('lldpcli') || !hasCommand('python3')
    ? 'needs lldpd, lldpcli and python3 (scripts/install-test-deps.sh)'
    : false;

t.test('lldpd in a neighbour namespace appears in `gatehouse lldp neighbours`', { skip }, async (t) => {
  t.setTimeout(180_000);
  const lan = await createLan({ prefix: 'ghnb', clients: 1 });
  t.teardown(() => lan.destroy());
  const client = lan.clients[0]!;
  // A Linux bridge keeps 01:80:c2:00:00:0e frames to itself; bit 14 of group_fwd_mask lets the
  // test's "switch" forward LLDP so the client's lldpd plays the switch announcing itself.
  await lan.sw.exec('ip', ['link', 'set', 'br0', 'type', 'bridge', 'group_fwd_mask', '0x4000']);
  const dir = tempDir(t, 'ghnb-lldp-');
  fs.chmodSync(dir, 0o755); // lldpd drops privileges to _lldpd for its control socket
  const configFile = path.join(dir, 'gatehouse.yml');
  const gh = await spawnGatehouse({
    dir,
    netns: lan.gw,
    startTimeoutMs: 60_000,
    configYaml: [
      `dataDir: ${path.join(dir, 'data')}`,
      'log: { level: debug }',
      'http: { listen: ["127.0.0.1:0"] }',
      'dns: { enabled: false }',
      'dhcp: { enabled: false }',
      'tftp: { enabled: false }',
      'lldp: { enabled: true, interfaces: [lan0] }',
      '',
    ].join('\n'),
  });
  t.teardown(() => gh.stop());
  await waitForLog(gh, (r) => r.event === 'lldp.listening', 20_000);

  const ctl = path.join(dir, 'lldpd.sock');
  const conf = path.join(dir, 'lldpd.conf');
  fs.writeFileSync(conf, 'configure system hostname sw-ghnb\nconfigure lldp portidsubtype ifname\n');
  client.spawn('lldpd', ['-d', '-u', ctl, '-I', 'eth0', '-O', conf, '-S', 'Gatehouse test switch']);
  const started = Date.now();
  const seen = await waitForLog(
    gh,
    (r) => r.event === 'lldp.neighbour_new' && r.systemName === 'sw-ghnb',
    15_000,
  );
  const after = Date.now() - started;
  t.ok(after < 10_000, `lldpd's first frame is in the table within a few seconds (${after} ms)`);
  t.equal(seen.chassis, client.mac);
  // The brief's way of making lldpd chatty; also proves the control socket is lldpd's own.
  await client.exec('lldpcli', ['-u', ctl, 'configure', 'lldp', 'tx-interval', '1']);

  const cli = (...args: string[]) =>
    lan.gw.exec(
      process.execPath,
      ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), 'lldp', ...args, '--config', configFile],
      { timeoutMs: 120_000 },
    );
  const json = JSON.parse((await cli('neighbours', '--json')).stdout) as Neighbour[];
  t.equal(json.length, 1);
  t.match(json[0], {
    interface: 'lan0',
    chassis: client.mac,
    port: 'eth0',
    systemName: 'sw-ghnb',
    systemDescription: 'Gatehouse test switch',
  });
  const table = (await cli('neighbours')).stdout;
  t.match(table, new RegExp(`lan0\\s+${client.mac}\\s+eth0\\s+sw-ghnb`));

  // Malformed LLDP frames (lying TLV length, port ID before chassis ID), sent raw from the neighbour.
  const bad = [
    Buffer.from([0x02, 0xff, 4, 1, 2]),
    encodeLldpdu({
      chassisId: { subtype: 4, raw: Buffer.alloc(6, 1) },
      portId: { subtype: 5, raw: Buffer.from('x') },
      ttl: 9,
    }).subarray(9),
  ];
  const frames = bad.map((b) =>
    Buffer.concat([
      Buffer.from('0180c200000e', 'hex'),
      Buffer.from(client.mac.replace(/:/g, ''), 'hex'),
      Buffer.from([0x88, 0xcc]),
      b,
    ]).toString('hex'),
  );
  const py = `import socket,sys\ns=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\ns.bind(('eth0',0))\nfor h in sys.argv[1:]: s.send(bytes.fromhex(h))\n`;
  await client.exec('python3', ['-c', py, ...frames, ...frames]);
  const warn = await waitForLog(gh, (r) => r.event === 'lldp.malformed', 10_000);
  t.equal(warn.interface, 'lan0');
  const port = /:(\d+)$/.exec(
    String(JSON.parse(fs.readFileSync(path.join(dir, 'data', 'gatehouse.pid'), 'utf8')).http),
  )![1];
  let metrics = '';
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
    metrics = (await lan.gw.exec('curl', ['-s', `http://127.0.0.1:${port}/metrics`])).stdout;
    if (/gatehouse_lldp_frames_total\{result="malformed"\} 4/.test(metrics)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  t.match(metrics, /gatehouse_lldp_frames_total\{result="malformed"\} 4/, 'every malformed frame counted');
  t.match(metrics, /gatehouse_lldp_frames_total\{result="refreshed"\} [1-9]/, 'lldpd frames keep arriving');
  const later = JSON.parse((await cli('neighbours', '--json')).stdout) as Neighbour[];
  t.same(
    later.map((n) => n.chassis),
    [client.mac],
    'malformed frames leave the table alone',
  );

  // The operator turns the neighbour into an MDB switch; the bootstrap script then offers it.
  const made = await cli(
    'switch',
    client.mac,
    '--name',
    'sw-ghnb',
    '--rfs',
    '0',
    '--hfs',
    '0',
    '--room',
    'pasteur',
  );
  t.same(JSON.parse(made.stdout), { name: 'sw-ghnb', chassis: client.mac, room: 'pasteur', rfs: 0, hfs: 0 });
  const bootstrap = (
    await lan.gw.exec('curl', ['-s', '-H', 'Host: netboot', `http://127.0.0.1:${port}/bootstrap`])
  ).stdout;
  t.match(bootstrap, `set sw_name_0 ${client.mac}\nset sw_rfs_0 0\nset sw_hfs_0 0\nset sw_room_0 pasteur\n`);
});
