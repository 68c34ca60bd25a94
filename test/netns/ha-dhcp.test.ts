import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { DoraResult } from '../../bench/bootstorm/dhcp-client.js';
import { RemoteDhcp } from '../../bench/bootstorm/remote-dhcp.js';
import { leases } from '../../src/cli/leases.js';
import { capture } from '../helpers/capture.js';
import { createHaPair, HA_FLOATING as FLOATING, type HaGateway, until } from '../helpers/ha-pair.js';
import type { Netns } from '../helpers/netns.js';
import { needsRoot } from '../helpers/netns.js';
import { tempDir } from '../helpers/tmp.js';
import { missingCommands } from '../helpers/tools.js';

/**
 * Issue 16, the DHCP half of "Done when": the namespace pair of test/helpers/ha-pair.ts with
 * DHCP on lan0 of both gateways (primary-only), `ha.mode: sync` (an ACK leaves only once the
 * standby has the lease row). A DHCP storm from a client namespace (the boot-storm bench's raw
 * client, bench/bootstorm/dhcp-client.ts: one process, many MACs) and two real `udhcpc`; kill -9
 * of the primary gateway in the middle of the storm. tcpdump on each gateway's bridge port
 * (`-Q in`: what that gateway sent) tells the gateways apart although both answer from the
 * floating address.
 */

const STORM = 150;
const WAVE2 = 20;
const missing = needsRoot || missingCommands(['keepalived', 'curl', 'tcpdump', 'udhcpc', 'nft']);

const hex = (n: number) => n.toString(16).padStart(2, '0');
const macOf = (i: number) => `52:54:00:dd:${hex(i >> 8)}:${hex(i & 255)}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Leases as `gatehouse leases --json` lists them from a gateway's store (LMDB allows a reader beside the server). */
async function leasesOf(gw: HaGateway): Promise<Map<string, { ip: string; status: string }>> {
  const out: string[] = [];
  await leases(['--data', path.join(gw.dir, 'data'), '--json'], { out: (l) => out.push(l), err: () => {} });
  const listed = (
    JSON.parse(out.join('\n')) as { leases: Array<{ ip: string; mac: string; status: string }> }
  ).leases;
  return new Map(listed.map((l) => [l.mac, l]));
}

/** A real busybox udhcpc on eth0 of `ns`; its script configures the address and logs every event. */
function udhcpc(ns: Netns, dir: string) {
  const events = path.join(dir, `${ns.name}.events`);
  const script = path.join(dir, `${ns.name}.sh`);
  fs.writeFileSync(
    script,
    [
      '#!/bin/sh',
      'case "$1" in',
      '  deconfig) ip -4 addr flush dev "$interface" ;;',
      '  bound|renew) ip addr replace "$ip/${mask:-24}" dev "$interface" ;;',
      'esac',
      'echo "$(date +%s%3N) $1 ${ip:-} ${serverid:-}" >> "$EVENTS"',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  const proc = ns.spawn('udhcpc', ['-f', '-i', 'eth0', '-s', script, '-T', '2', '-t', '10', '-A', '1'], {
    env: { ...process.env, EVENTS: events },
  });
  return {
    /** `ip netns exec` execs udhcpc: the child's pid is udhcpc's. */
    renew: () => proc.kill('SIGUSR1'),
    events(): Array<{ at: number; event: string; ip: string; serverId: string }> {
      if (!fs.existsSync(events)) return [];
      return fs
        .readFileSync(events, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const [at, event, ip, serverId] = l.split(' ');
          return { at: Number(at), event: event!, ip: ip ?? '', serverId: serverId ?? '' };
        });
    },
  };
}

t.test(
  'hot standby in namespaces: kill -9 of the primary during a DHCP storm (sync mode)',
  { skip: missing, timeout: 300_000 },
  async (t) => {
    const root = tempDir(t, 'gatehouse-hadh-');
    const pair = await createHaPair({ prefix: 'hadh', root, mode: 'sync', dhcp: { leaseTime: 600 } });
    t.teardown(() => pair.destroy());
    const { g1, g2, sw } = pair;
    const storm = await pair.addClient('d0'); // no address: the raw client sends from 0.0.0.0
    const u1 = await pair.addClient('u1');
    const u2 = await pair.addClient('u2');
    // u2 cannot unicast to a DHCP server (as if its server identifier were unreachable): its
    // renewal must go through REBINDING (broadcast, RFC 2131 §4.4.5).
    fs.writeFileSync(
      path.join(root, 'u2.nft'),
      [
        'table ip t {',
        '  chain out {',
        '    type filter hook output priority 0;',
        '    udp dport 67 ip daddr != 255.255.255.255 drop',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    await u2.exec('nft', ['-f', path.join(root, 'u2.nft')]);

    const sent = {
      g1: capture(sw, 'hadhg1s', 'udp src port 67', 'in'),
      g2: capture(sw, 'hadhg2s', 'udp src port 67', 'in'),
    };
    const asked = {
      u1: capture(sw, 'hadhu1s', 'udp dst port 67', 'in'),
      u2: capture(sw, 'hadhu2s', 'udp dst port 67', 'in'),
    };
    await Promise.all([sent.g1.ready, sent.g2.ready, asked.u1.ready, asked.u2.ready]);

    await pair.start();
    await g1.gatehouse!.waitForLog((r) => r.event === 'dhcp.started', 20_000);
    const dhcp = new RemoteDhcp('eth0', storm.name);
    await dhcp.open();
    t.teardown(() => dhcp.close());

    // The real clients get their leases from g1 before the storm.
    const real = { u1: udhcpc(u1, root), u2: udhcpc(u2, root) };
    await until(
      'both udhcpc bound',
      () => Object.values(real).every((c) => c.events().some((e) => e.event === 'bound')),
      30_000,
    );
    const bound = {
      u1: real.u1.events().find((e) => e.event === 'bound')!,
      u2: real.u2.events().find((e) => e.event === 'bound')!,
    };
    for (const [name, b] of Object.entries(bound))
      t.equal(b.serverId, FLOATING, `${name}: option 54 is the floating address (it moves with the primary)`);

    // The storm: a DORA every 25 ms (each retransmits after 1, 2, 4, 8 s, iPXE's schedule; a
    // client that got nothing starts again, three times at most); kill the primary gateway once
    // 50 have their lease.
    const acked = new Map<string, { ip: string; serverId: string; at: number }>();
    const failed: string[] = [];
    const oneClient = async (i: number) => {
      const mac = macOf(i);
      let r: DoraResult | undefined;
      for (let attempt = 0; attempt < 3; attempt++) {
        r = await dhcp.dora(mac, 'ipxe');
        if (r.ok) {
          acked.set(mac, { ip: r.lease.ip, serverId: r.lease.serverId, at: Date.now() });
          return;
        }
      }
      failed.push(`${mac}: ${r?.ok === false ? r.reason : '?'}`);
    };
    const clients: Promise<void>[] = [];
    const launcher = (async () => {
      for (let i = 0; i < STORM; i++) {
        clients.push(oneClient(i));
        await sleep(25);
      }
    })();
    await until('50 leases acknowledged', () => acked.size >= 50, 60_000);
    const beforeKill = await pair.status(g1);
    const silentAt = await g1.kill();
    await launcher;
    await Promise.all(clients);
    t.ok(await g2.holdsFloating(), 'g2 holds the floating address');
    t.equal((await pair.status(g2)).role, 'primary', 'g2 is primary');

    // Not degraded at the kill: every ACK g1 sent had been applied by g2 (a degradation during
    // the storm ends only once g2 has acknowledged everything).
    t.match(
      beforeKill,
      { mode: 'sync', standby: { connected: 1, syncDegraded: false } },
      'g1 acknowledged in sync mode, g2 connected and caught up, at the kill',
    );
    t.same(failed, [], `every storm client got a lease (${STORM})`);
    const byG1 = [...acked.values()].filter((a) => a.at <= silentAt).length;
    t.ok(
      byG1 >= 50 && acked.size - byG1 > 0,
      `${byG1} ACKs from g1 before it died, ${acked.size - byG1} from g2 after`,
    );
    t.same(
      [...acked.values()].filter((a) => a.serverId !== FLOATING).map((a) => a.serverId),
      [],
      'every ACK names the floating address as server (54)',
    );
    const owners = new Map<string, string[]>();
    for (const [mac, a] of acked) owners.set(a.ip, [...(owners.get(a.ip) ?? []), mac]);
    t.same(
      [...owners.entries()].filter(([, macs]) => macs.length > 1),
      [],
      'no address was handed to two MACs',
    );

    // The standby never answered; the new primary answers on the floating address within seconds.
    t.same(
      sent.g2.packets.filter((p) => p.at < silentAt).map((p) => p.text),
      [],
      'g2 sent no DHCP while standby',
    );
    const firstNew = sent.g2.packets.find((p) => p.at >= silentAt);
    const lastOld = sent.g1.packets.filter((p) => p.at < silentAt).pop();
    t.ok(firstNew && lastOld, 'both gateways answered');
    const takeoverMs = Math.round(firstNew!.at - lastOld!.at);
    t.ok(takeoverMs < 10_000, `DHCP takeover ${takeoverMs} ms (last answer of g1 → first of g2)`);
    t.same(
      sent.g2.packets.filter((p) => !p.text.startsWith(`IP ${FLOATING}.67 > `)).map((p) => p.text),
      [],
      'g2 answers from the floating address',
    );

    // Every acknowledged lease is in the new primary's store, bound to its client.
    const onG2 = await leasesOf(g2);
    t.same(
      [...acked]
        .filter(([mac, a]) => onG2.get(mac)?.ip !== a.ip || onG2.get(mac)?.status !== 'active')
        .map(([m]) => m),
      [],
      `all ${acked.size} acknowledged leases are active on g2 (${byG1} of them acknowledged by g1)`,
    );

    // Clients keep their addresses: every storm client asks again (INIT-REBOOT, RFC 2131 §4.3.2).
    const again = await Promise.all(
      [...acked].map(async ([mac, a]) => [mac, a.ip, await dhcp.reboot(mac, 'ipxe', a.ip)] as const),
    );
    t.same(
      again
        .filter(([, ip, r]) => !r.ok || r.lease.ip !== ip)
        .map(([mac, ip, r]) => `${mac} ${ip} ${r.ok ? r.lease.ip : r.reason}`),
      [],
      'every storm client is ACKed its address again by g2',
    );

    // The real clients renew: u1 RENEWING (unicast to option 54, the floating address), u2
    // REBINDING (broadcast, its unicast is dropped).
    const renewAt = Date.now();
    real.u1.renew();
    real.u2.renew();
    await until(
      'both udhcpc renewed',
      () => Object.values(real).every((c) => c.events().some((e) => e.event === 'renew' && e.at >= renewAt)),
      30_000,
    );
    await sleep(500); // the captures' last packets
    for (const [name, c] of Object.entries(real) as Array<[keyof typeof real, ReturnType<typeof udhcpc>]>) {
      const r = c.events().find((e) => e.event === 'renew' && e.at >= renewAt)!;
      t.equal(r.ip, bound[name].ip, `${name} kept its address ${bound[name].ip}`);
      t.equal(r.serverId, FLOATING, `${name}: the new primary names the floating address too`);
      t.notOk(
        c.events().some((e) => e.at >= renewAt && (e.event === 'deconfig' || e.event === 'nak')),
        `${name} never lost it`,
      );
      t.ok(
        sent.g2.packets.some((p) => p.at >= renewAt && p.text.includes(`> ${bound[name].ip}.68:`)),
        `${name}: g2 answered it`,
      );
    }
    const after = (c: typeof asked.u1) => c.packets.filter((p) => p.at >= renewAt).map((p) => p.text);
    t.ok(
      after(asked.u1).length > 0 && after(asked.u1).every((l) => l.includes(`> ${FLOATING}.67:`)),
      'u1 renewed by unicast to the floating address (RENEWING)',
    );
    t.ok(
      after(asked.u2).some((l) => l.includes('> 255.255.255.255.67:')),
      'u2 renewed by broadcast (REBINDING)',
    );

    // The old primary comes back: standby, catches up, and stays silent on DHCP while clients ask.
    await g1.startGatehouse();
    g1.startKeepalived();
    await until(
      'g1 caught up',
      async () => {
        const [s1, s2] = [await pair.status(g1), await pair.status(g2)];
        return s1.role === 'standby' && s1.seq === s2.seq && s1.appliedR === s2.appliedR;
      },
      30_000,
    );
    const wave2 = await Promise.all(
      Array.from({ length: WAVE2 }, async (_, k) => {
        const mac = macOf(STORM + k);
        const r = await dhcp.dora(mac, 'ipxe');
        if (r.ok) acked.set(mac, { ip: r.lease.ip, serverId: r.lease.serverId, at: Date.now() });
        return r.ok;
      }),
    );
    t.equal(wave2.filter(Boolean).length, WAVE2, `${WAVE2} new clients got leases after g1 came back`);
    await sleep(1500);
    t.notOk(await g1.holdsFloating(), 'g1 did not take the address back');
    t.same(
      sent.g1.packets.filter((p) => p.at >= silentAt).map((p) => p.text),
      [],
      'g1 sent no DHCP since it died, back as standby included',
    );
    const ips = [...acked.values()].map((a) => a.ip);
    t.equal(new Set(ips).size, ips.length, 'still no address handed to two MACs');
    await until(
      'g1 has the new leases',
      async () => (await pair.status(g1)).appliedR === (await pair.status(g2)).appliedR,
      10_000,
    );
    const onG1 = await leasesOf(g1);
    t.same(
      [...acked].filter(([mac, a]) => onG1.get(mac)?.ip !== a.ip).map(([m]) => m),
      [],
      `g1 (standby again) has all ${acked.size} leases`,
    );
    const ready = g2.gatehouse!.logs.find((r) => r.event === 'ha.primary_ready');
    t.comment(
      `DHCP takeover ${takeoverMs} ms; g2's promotion took ${String(ready?.ms)} ms (DHCP start included); ${byG1} leases by g1, ${acked.size - byG1} by g2`,
    );
  },
);
