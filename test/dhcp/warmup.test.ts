/**
 * The DHCP start-up warm-up (src/dhcp/warmup.ts, DhcpServer.warmUp): it runs the server's own
 * per-packet path on a twin and leaves no trace, and afterwards that path is optimised code.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { BOOT_SERVICE, type BootService } from '../../src/boot/service.js';
import { defaultConfig } from '../../src/config/index.js';
import { decodePacket } from '../../src/dhcp/codec.js';
import { parseIpUdp } from '../../src/dhcp/ip-udp.js';
import { formatIp } from '../../src/dhcp/ipv4.js';
import { readLeases } from '../../src/dhcp/lease-store.js';
import { readRequest } from '../../src/dhcp/options.js';
import { buildPlan } from '../../src/dhcp/plan.js';
import type { DhcpServer } from '../../src/dhcp/server.js';
import { WarmTraffic, warmMachines } from '../../src/dhcp/warmup.js';
import { machinesTable } from '../../src/mdb/model.js';
import { startGatehouse } from '../helpers/gatehouse.js';
import { loopbackNetns, needsRoot } from '../helpers/netns.js';
import { tempDir } from '../helpers/tmp.js';
import { clientBytes, machine, viewReply } from './helpers.js';
import { RelayPeer } from './relay-peer.js';

const here = path.dirname(fileURLToPath(import.meta.url));

t.test('the warm-up traffic: a new machine per round, ROM-like random 32-bit xids', async (t) => {
  const plan = buildPlan(defaultConfig({ demo: { seed: false } }));
  const machines = warmMachines(plan, undefined, 50);
  t.equal(new Set(machines.map((m) => m.mac)).size, 50);
  const traffic = new WarmTraffic(plan, machines, plan.gateway);
  t.equal(traffic.size, 8, 'PXE and iPXE DISCOVER + REQUEST of a known machine and of an alien');
  const frames = traffic.frames(50);
  t.equal(frames.length, 400);
  const seen = { macs: new Set<string>(), highXids: 0 };
  const wrong: string[] = [];
  for (const f of frames) {
    const ip = parseIpUdp(f);
    if (!ip.ok) throw new Error(ip.reason);
    const d = decodePacket(ip.datagram.payload);
    if (!d.ok) throw new Error(d.detail);
    const r = readRequest(d.packet);
    if (!r.ok) throw new Error(r.detail);
    const q = r.request;
    seen.macs.add(q.mac!);
    if (d.packet.xid >= 2 ** 31) seen.highXids++;
    const m = machines.find((x) => x.mac === q.mac);
    if (q.type === 'REQUEST' && m && formatIp(q.requestedIp!) !== m.ip)
      wrong.push(`${q.mac} asks ${q.requestedIp}`);
    if (q.clientIdRaw && q.clientId !== `01${q.mac!.replaceAll(':', '')}`)
      wrong.push(`${q.mac} id ${q.clientId}`);
  }
  t.same(wrong, [], "each REQUEST asks for its machine's address; client ids match the MACs");
  t.ok(seen.macs.size > 50, `${seen.macs.size} machines`);
  t.ok(seen.highXids > 0, `${seen.highXids} xids above 2^31`);
});

t.test(
  'relay-only: the warm-up leaves no trace, and the server answers and follows MDB after it',
  async (t) => {
    const gh = await startGatehouse(t, {
      network: { alien: '127.0.0.0/16', alienGateway: '127.0.255.254' },
      dhcp: {
        listen: '127.0.0.1:0',
        warmupRounds: 200,
        alien: { rangeStart: '127.0.1.1', rangeEnd: '127.0.1.200' },
      },
    });
    const dhcp = gh.app.service<DhcpServer>('dhcp')!;
    await dhcp.warmedUp();
    const dhcpLines = gh.logs.filter((r) => String(r.event).startsWith('dhcp.'));
    t.same(
      dhcpLines.map((r) => r.event),
      ['dhcp.started', 'dhcp.warmed_up'],
      'no log line but dhcp.started and dhcp.warmed_up',
    );
    t.ok(Number(dhcpLines[1]!.warmupMs) >= 0);
    const metrics = (await gh.app.metrics.text())
      .split('\n')
      .filter((l) => /^gatehouse_dhcp_\w+_total/.test(l));
    t.same(
      metrics.filter((l) => !l.endsWith(' 0')),
      [],
      'no DHCP counter moved',
    );
    t.equal(dhcp.leases.snapshot(Date.now()).length, 0, 'no lease in the engine');
    t.equal(gh.app.store.read((tx) => readLeases(tx)).length, 0, 'no lease in the store');
    const boot = gh.app.service<BootService>(BOOT_SERVICE)?.progress;
    t.ok(boot, 'the boot-progress service runs');
    t.equal(boot?.size, 0, 'no boot-progress entry');

    // Registered after the warm-up: the host map still follows MDB, and the server answers.
    const known = machine('pc-after', 'aa:bb:cc:dd:ee:77', '192.168.0.77');
    await gh.app.store.write((tx) => tx.put(machinesTable(gh.app.store), known.hostname, known));
    const peer = await RelayPeer.open();
    t.teardown(() => peer.close());
    const reply = await peer.exchange(
      clientBytes({ type: 'DISCOVER', mac: known.mac, xid: 0xdeadbeef, giaddr: '127.0.0.1' }),
      dhcp.relayPort!,
      2000,
    );
    t.match(reply && viewReply(reply), { type: 'OFFER', xid: 0xdeadbeef, yiaddr: '192.168.0.77' });
  },
);

t.test(
  'on a served interface: nothing sent, stored or counted, and the packet path is optimised code',
  { skip: needsRoot, timeout: 120_000 },
  async (t) => {
    const ns = await loopbackNetns(t, 'dwwarm');
    await ns.exec('sysctl', [
      '-qw',
      'net.ipv6.conf.all.disable_ipv6=1',
      'net.ipv6.conf.default.disable_ipv6=1',
    ]);
    await ns.exec('ip', ['link', 'add', 'dw0', 'type', 'veth', 'peer', 'name', 'dw1']);
    await ns.exec('ip', ['addr', 'add', '192.168.1.254/23', 'dev', 'dw0']);
    await ns.exec('ip', ['link', 'set', 'dw1', 'up']);
    await ns.exec('ip', ['link', 'set', 'dw0', 'up']);
    const dir = tempDir(t, 'dwwarm-');
    fs.chmodSync(dir, 0o755);
    const child = await ns.exec(
      process.execPath,
      [
        '--allow-natives-syntax',
        // Each function compiled on its own, so that its status tells whether it was made hot.
        '--no-turbo-inlining',
        '--import',
        'tsx',
        path.join(here, 'fixtures/warm-child.ts'),
        path.join(dir, 'data'),
        'dw0',
        '700',
      ],
      { timeoutMs: 90_000, allowFail: true },
    );
    t.equal(child.code, 0, child.stderr);
    const out = JSON.parse(child.stdout.trim().split('\n').pop()!) as {
      events: string[];
      warmedUp: { requests: number; replies: number; warmupMs: number };
      metrics: string[];
      storedLeases: number;
      engineLeases: number;
      bootEntries: number;
      txPackets: number;
      optimized: Record<string, boolean>;
    };
    t.same(out.events, ['dhcp.started', 'dhcp.warmed_up'], 'no log line but these two');
    t.equal(out.warmedUp.requests, 5600, 'every synthetic request was read through the transport');
    t.equal(out.warmedUp.replies, 5600, 'and answered into the stand-in socket');
    t.equal(out.txPackets, 0, 'nothing sent on the interface');
    t.same(
      out.metrics.filter((l) => /_total /.test(l) && !l.endsWith(' 0')),
      [],
      'no DHCP counter moved',
    );
    t.ok(out.metrics.includes('gatehouse_dhcp_leases{state="bound"} 0'));
    t.equal(out.storedLeases, 0, 'no lease stored');
    t.equal(out.engineLeases, 0, 'no lease in the engine');
    t.equal(out.bootEntries, 0, 'no boot-progress entry');
    // Fails on the warm-up that ran the pure stages only: the server side was never run.
    t.same(
      Object.entries(out.optimized).filter(([, optimized]) => !optimized),
      [],
      `optimised after the warm-up: ${Object.keys(out.optimized).join(', ')}`,
    );
  },
);
