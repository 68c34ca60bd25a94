/**
 * Real clients against `gatehouse serve` in network namespaces (needs root): the gateway has
 * `lan0` (192.168.1.254/23 + 192.168.250.254/24) on the LAN bridge and `uplink` to an
 * "Internet" namespace. Gatehouse serves DHCP on lan0 through raw sockets.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { leases } from '../../src/cli/leases.js';
import { machinesTable } from '../../src/mdb/model.js';
import { allMigrations } from '../../src/migrations.js';
import { Store } from '../../src/store/index.js';
import { type LanClient, type LanTopology, type Netns, createLan, needsRoot } from '../helpers/netns.js';
import { type SpawnedGatehouse, spawnGatehouse } from '../helpers/spawn-gatehouse.js';
import { tempDir } from '../helpers/tmp.js';
import { clientBytes, machine, viewReply } from './helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const GW = '192.168.1.254';
const AGW = '192.168.250.254';
const WITH_175 = ['-O', '175'];

/** Parses `KEY=value` lines written by the udhcpc dump script. */
function readEnv(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!fs.existsSync(file)) return out;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

t.test(
  'DHCP on a multi-homed gateway with real clients (scenarios 33-37)',
  { skip: needsRoot, timeout: 240_000 },
  async (t) => {
    const dir = tempDir(t, 'ghdh-');
    fs.chmodSync(dir, 0o755);
    const lan: LanTopology = await createLan({ prefix: 'ghdh', clients: 5 });
    t.teardown(() => lan.destroy());
    const [known, service, cluster, alien, relay] = lan.clients as [
      LanClient,
      LanClient,
      LanClient,
      LanClient,
      LanClient,
    ];

    // MDB rows are written straight into the store before the server starts (addresses above
    // the pool counters so that a netboot registration allocates 192.168.0.1 without a clash).
    const dataDir = path.join(dir, 'data');
    const store = await Store.open({ dir: dataDir, migrations: allMigrations });
    await store.write((tx) => {
      const table = machinesTable(store);
      tx.put(table, 'pas-r01p01', machine('pas-r01p01', known.mac, '192.168.0.101'));
      tx.put(table, 'rhfs0', machine('rhfs0', service.mac, '192.168.1.101', 'service'));
      tx.put(table, 'cl-node1', machine('cl-node1', cluster.mac, '192.168.2.1', 'cluster'));
    });
    await store.close();

    const configYaml = [
      `dataDir: ${dataDir}`,
      'demo: { seed: false }',
      'log: { level: debug }',
      "http: { listen: ['0.0.0.0:80'] }",
      "dns: { listen: ['127.0.0.1:0'] }",
      "tftp: { listen: ['127.0.0.1:0'] }",
      'dhcp: { interfaces: [lan0] }',
      '',
    ].join('\n');
    let gh: SpawnedGatehouse = await spawnGatehouse({ dir, netns: lan.gw, configYaml });
    t.teardown(() => gh.stop());

    const dump = path.join(dir, 'dump.sh');
    fs.writeFileSync(
      dump,
      '#!/bin/sh\nenv | grep -E "^(ip|subnet|router|dns|domain|hostname|lease|siaddr|serverid|boot_file|opt[0-9]+)=" > "$DUMP/$1.env"\n',
      { mode: 0o755 },
    );
    let run = 0;
    /** Runs udhcpc once in `ns`; returns the environment of its `bound` event ({} if none). */
    async function udhcpc(ns: Netns, args: string[], tries = 3): Promise<Record<string, string>> {
      const out = path.join(dir, `udhcpc-${run++}`);
      fs.mkdirSync(out);
      await ns.exec(
        'env',
        [
          `DUMP=${out}`,
          'udhcpc',
          '-f',
          '-q',
          '-n',
          '-i',
          'eth0',
          '-t',
          String(tries),
          '-T',
          '1',
          '-s',
          dump,
          ...args,
        ],
        {
          allowFail: true,
          timeoutMs: 20_000,
        },
      );
      return readEnv(path.join(out, 'bound.env'));
    }

    await t.test(
      'scenario 33: dhclient on a known machine; the reply leaves lan0 from 192.168.1.254',
      async (t) => {
        const conf = path.join(dir, 'dhclient.conf');
        fs.writeFileSync(conf, 'option ipxe-encap code 175 = string;\nalso request ipxe-encap;\n');
        const capture = known.spawn('tcpdump', ['-i', 'eth0', '-n', '-l', '-c', '2', 'udp src port 67']);
        let captured = '';
        capture.stdout!.on('data', (d: Buffer) => (captured += d.toString()));
        await new Promise((r) => setTimeout(r, 1000)); // tcpdump needs a moment to attach; no event to wait for
        const leases = path.join(dir, 'dhclient.leases');
        const pid = path.join(dir, 'dhclient.pid');
        const r = await known.exec(
          'dhclient',
          ['-1', '-v', '-cf', conf, '-sf', '/bin/true', '-lf', leases, '-pf', pid, 'eth0'],
          { allowFail: true, timeoutMs: 30_000 },
        );
        await known.exec('dhclient', ['-x', '-pf', pid], { allowFail: true });
        t.equal(r.code, 0, 'dhclient got a lease');
        const lease = fs.readFileSync(leases, 'utf8');
        t.match(lease, /fixed-address 192\.168\.0\.101;/);
        t.match(lease, /filename "prologin\.kpxe";/);
        t.match(lease, /option subnet-mask 255\.255\.254\.0;/);
        t.match(lease, /option routers 192\.168\.1\.254;/);
        t.match(lease, /option domain-name-servers 192\.168\.1\.254;/);
        t.match(lease, /option host-name "pas-r01p01";/);
        t.match(lease, /option domain-name "prolo";/);
        t.match(lease, /option dhcp-lease-time 14400;/);
        t.match(lease, /option dhcp-server-identifier 192\.168\.1\.254;/);
        t.match(lease, /option ipxe-encap b0:1:1;/, 'option 175 with 176 = 1, since dhclient asked for 175');
        await new Promise<void>((resolve) =>
          capture.exitCode !== null ? resolve() : capture.once('exit', () => resolve()),
        );
        const replies = captured.split('\n').filter((l) => l.includes('BOOTP/DHCP'));
        t.equal(replies.length, 2, 'OFFER and ACK seen on the client');
        for (const line of replies)
          t.match(line, /IP 192\.168\.1\.254\.67 > 255\.255\.255\.255\.68: /, "sent from lan0's address");
        t.ok(
          gh.logs.some((l) => l.event === 'dhcp.ack' && l.mac === known.mac && l.via === 'lan0'),
          'one log line per transaction',
        );
      },
    );

    await t.test('scenario 34: udhcpc on a known service machine gets arch.kpxe', async (t) => {
      const env = await udhcpc(service, WITH_175);
      t.match(env, {
        ip: '192.168.1.101',
        subnet: '255.255.254.0',
        router: GW,
        dns: GW,
        hostname: 'rhfs0',
        domain: 'prolo',
        lease: '14400',
        siaddr: GW,
        boot_file: 'arch.kpxe',
        serverid: GW,
        opt175: 'b00101',
      });
    });

    let alienIp = '';
    await t.test(
      'scenario 35: a PXE-like udhcpc (vendor class PXEClient, option 93) on an unknown machine',
      async (t) => {
        const env = await udhcpc(alien, [
          '-V',
          'PXEClient:Arch:00000:UNDI:002001',
          '-x',
          '0x5d:0000',
          ...WITH_175,
        ]);
        alienIp = env.ip ?? '';
        t.match(alienIp, /^192\.168\.250\.(\d+)$/);
        const last = Number(alienIp.split('.')[3]);
        t.ok(last >= 1 && last <= 200, 'inside .1-.200');
        t.match(env, {
          lease: '30',
          subnet: '255.255.255.0',
          router: AGW,
          dns: AGW,
          siaddr: AGW,
          domain: 'prolo',
          boot_file: 'prologin.kpxe',
          serverid: AGW,
        });
        t.equal(
          env.opt175,
          'b00101' + '5105' + Buffer.from('alien').toString('hex'),
          '175 = {176: 1, 81 (scriptlet): "alien"}',
        );
        t.notOk(env.hostname);
        const efi = await udhcpc(alien, [
          '-V',
          'PXEClient:Arch:00007:UNDI:003016',
          '-x',
          '0x5d:0007',
          '-r',
          alienIp,
        ]);
        t.match(
          efi,
          { ip: alienIp, boot_file: 'prologin.efi' },
          'UEFI x64 (arch 7) gets the EFI image, same lease',
        );
        // Option 77 = "iPXE", as iPXE sends it (bare string, see the golden packets).
        const ipxe = await udhcpc(alien, ['-x', `0x4d:${Buffer.from('iPXE').toString('hex')}`, ...WITH_175]);
        t.match(
          ipxe,
          { ip: alienIp, boot_file: 'http://netboot/bootstrap', opt175: /5105616c69656e/ },
          'iPXE is chained over HTTP and still gets the scriptlet',
        );
      },
    );

    await t.test(
      'dhcping (REQUEST and INFORM with ciaddr) is answered from the address it talked to',
      async (t) => {
        await alien.exec('ip', ['addr', 'add', `${alienIp}/24`, 'dev', 'eth0']);
        t.teardown(() =>
          alien.exec('ip', ['addr', 'flush', 'dev', 'eth0'], { allowFail: true }).then(() => {}),
        );
        const req = await alien.exec('dhcping', ['-s', AGW, '-c', alienIp, '-h', alien.mac, '-t', '3'], {
          allowFail: true,
        });
        t.equal(req.code, 0, req.stdout + req.stderr);
        t.match(req.stdout, /Got answer from: 192\.168\.250\.254/);
        const inform = await alien.exec(
          'dhcping',
          ['-s', AGW, '-c', alienIp, '-h', alien.mac, '-i', '-t', '3'],
          { allowFail: true },
        );
        t.equal(inform.code, 0, inform.stdout + inform.stderr);
        await gh.waitForLog((l) => l.event === 'dhcp.ack' && l.case === 'inform' && l.mac === alien.mac);
      },
    );

    await t.test(
      'scenario 37 and the uplink: a cluster machine and a client on the Internet side get nothing',
      async (t) => {
        const [cl, up] = await Promise.all([udhcpc(cluster, [], 2), udhcpc(lan.internet, [], 2)]);
        t.same(cl, {}, 'cluster machine: no lease');
        t.same(up, {}, 'uplink client: no lease');
        t.ok(
          gh.logs.some(
            (l) => l.event === 'dhcp.drop' && l.reason === 'host-not-served' && l.mac === cluster.mac,
          ),
        );
        const inMac = (await lan.internet.exec('cat', ['/sys/class/net/eth0/address'])).stdout.trim();
        t.notOk(
          gh.logs.some((l) => l.mac === inMac),
          'DHCP from the uplink never reaches the server',
        );
      },
    );

    await t.test(
      'relayed requests (perfdhcp as relay agent; a relay with option 82) are answered to the relay',
      async (t) => {
        await relay.exec('ip', ['addr', 'add', '192.168.250.10/24', 'dev', 'eth0']);
        const perf = await relay.exec(
          'perfdhcp',
          ['-4', '-r', '20', '-p', '2', '-R', '10', '-l', '192.168.250.10', AGW],
          { allowFail: true, timeoutMs: 20_000 },
        );
        const sent = [...perf.stdout.matchAll(/sent packets: (\d+)/g)].map((m) => Number(m[1]));
        const received = [...perf.stdout.matchAll(/received packets: (\d+)/g)].map((m) => Number(m[1]));
        t.ok(sent[0]! > 0 && sent[1]! > 0, `perfdhcp sent DISCOVERs and REQUESTs (${sent})`);
        t.same(received, sent, 'every DISCOVER and REQUEST answered');
        t.ok(
          gh.logs.some(
            (l) => l.event === 'dhcp.ack' && l.to === '192.168.250.10:67' && l.giaddr === '192.168.250.10',
          ),
        );
        const agent = Uint8Array.of(1, 6, 0x73, 0x77, 0x31, 0x2f, 0x31, 0x32, 2, 3, 0xaa, 0xbb, 0xcc);
        const hex = clientBytes({
          type: 'DISCOVER',
          mac: '02:00:00:00:82:01',
          giaddr: '192.168.250.10',
          relayAgent: agent,
          prl: [1, 3, 175],
        }).toString('hex');
        const r = await relay.exec(process.execPath, [
          path.join(here, 'fixtures/udp-exchange.mjs'),
          '192.168.250.10',
          '67',
          AGW,
          '67',
          hex,
        ]);
        const reply = viewReply(Buffer.from(r.stdout.trim(), 'hex'));
        t.match(reply, {
          type: 'OFFER',
          giaddr: '192.168.250.10',
          serverId: AGW,
          relayAgent: Buffer.from(agent).toString('hex'),
          ipxe: { 81: 'alien' },
        });
      },
    );

    await t.test('restarting Gatehouse keeps alien leases', async (t) => {
      t.equal(await gh.stop(), 0, 'clean stop');
      gh = await spawnGatehouse({ dir, netns: lan.gw, configYaml });
      t.notOk(gh.logs.some((l) => l.event === 'dhcp.probation'));
      const env = await udhcpc(alien, []);
      t.equal(env.ip, alienIp, 'a fresh DISCOVER after the restart gets the same address');
      const out: string[] = [];
      t.equal(
        await leases(['--data', dataDir, '--json'], { out: (l) => out.push(l), err: () => {} }),
        0,
      );
      const listed = (
        JSON.parse(out.join('\n')) as { leases: Array<{ ip: string; mac: string; status: string }> }
      ).leases;
      t.ok(
        listed.some((l) => l.ip === alienIp && l.mac === alien.mac && l.status === 'active'),
        '`gatehouse leases` lists it',
      );
    });

    await t.test(
      'scenario 36: registering through netboot gives the fixed address and no scriptlet',
      async (t) => {
        await alien.exec('ip', ['addr', 'add', `${alienIp}/24`, 'dev', 'eth0']);
        const reg = await alien.exec(
          'curl',
          [
            '-sS',
            '-m',
            '5',
            '-H',
            'Host: netboot',
            `http://${AGW}/register?hostname=newmachine&mac=${alien.mac}&rfs=0&hfs=0&room=pasteur&mtype=user`,
          ],
          { allowFail: true },
        );
        await alien.exec('ip', ['addr', 'flush', 'dev', 'eth0']);
        t.match(reg.stdout, /Registration succeeded/i, 'netboot registered the machine');
        const env = await udhcpc(alien, WITH_175);
        t.match(env, {
          ip: '192.168.0.1',
          hostname: 'newmachine',
          subnet: '255.255.254.0',
          router: GW,
          lease: '14400',
          boot_file: 'prologin.kpxe',
          opt175: 'b00101',
        });
      },
    );
  },
);
