/**
 * Issue 13: the DHCP port guard (a UDP socket that only holds port 67 so unicast DHCP gets no
 * ICMP port unreachable) was bound to 0.0.0.0 and never read, so every broadcast DHCP datagram
 * was also queued there and dropped: thousands of UDP RcvbufErrors per boot storm, hiding real
 * drops. Now it holds the port on the interface's addresses (broadcasts never reach it) and
 * discards what it gets. Here, in namespaces: perfdhcp broadcasts DISCOVERs and another client
 * sends unicast datagrams to the server port; the gateway's UDP drop counters do not move, and
 * the unicast ones meet a socket (no "no port" count, so no ICMP port unreachable).
 */
import path from 'node:path';
import t from 'tap';
import { createLan, type LanClient, type Netns, needsRoot } from '../helpers/netns.js';
import { protoCounters } from '../helpers/proc-net.js';
import { spawnGatehouse } from '../helpers/spawn-gatehouse.js';
import { tempDir } from '../helpers/tmp.js';

const GW = '192.168.1.254';
const DISCOVERS = 200;
const UNICASTS = 50;

/** UDP counters of a namespace (/proc/net/snmp). */
async function udpCounters(ns: Netns): Promise<Record<string, number>> {
  return protoCounters((await ns.exec('cat', ['/proc/net/snmp'])).stdout, 'Udp');
}

t.test(
  'the port guard sees no broadcast and keeps an empty queue: no UDP drop counted in a DHCP burst',
  { skip: needsRoot, timeout: 120_000 },
  async (t) => {
    const dir = tempDir(t, 'sdhcguard-');
    const lan = await createLan({ prefix: 'sdhc', clients: 2 });
    t.teardown(() => lan.destroy());
    const [client, sender] = lan.clients as [LanClient, LanClient];
    await client.exec('ip', ['addr', 'add', '192.168.1.60/23', 'dev', 'eth0']);
    await sender.exec('ip', ['addr', 'add', '192.168.1.61/23', 'dev', 'eth0']);
    const gh = await spawnGatehouse({
      dir,
      netns: lan.gw,
      configYaml: [
        `dataDir: ${path.join(dir, 'data')}`,
        'demo: { seed: false }',
        "http: { listen: ['127.0.0.1:0'] }",
        "dns: { listen: ['127.0.0.1:0'] }",
        "tftp: { listen: ['127.0.0.1:0'] }",
        'dhcp: { interfaces: [lan0] }',
        '',
      ].join('\n'),
    });
    t.teardown(() => gh.stop());
    const listening = (await lan.gw.exec('ss', ['-Hlnu', 'sport', '= :67'])).stdout;
    t.match(listening, `${GW}:67`, 'the port is held on the LAN address');
    t.notMatch(listening, '0.0.0.0:67', 'and not on the wildcard address');

    const before = await udpCounters(lan.gw);
    const perf = await client.exec(
      'perfdhcp',
      ['-4', '-l', 'eth0', '-r', '200', '-n', String(DISCOVERS), '-R', String(DISCOVERS), '-p', '3', 'all'],
      { allowFail: true, timeoutMs: 30_000 },
    );
    const sent = Number(/sent packets: (\d+)/.exec(perf.stdout)?.[1] ?? -1);
    t.ok(sent >= DISCOVERS, `perfdhcp broadcast ${sent} DISCOVERs (and REQUESTs)`);
    // Unicast to the server port, as a renewing client or a relay would (not DHCP: only the
    // raw socket parses them, and counts them malformed).
    await sender.exec(process.execPath, [
      '-e',
      `const s = require('node:dgram').createSocket('udp4');
       let n = 0;
       const next = () => n++ < ${UNICASTS} ? s.send(Buffer.alloc(300), 67, '${GW}', next) : s.close();
       next();`,
    ]);
    await new Promise((r) => setTimeout(r, 500));
    const after = await udpCounters(lan.gw);
    t.equal(after.RcvbufErrors! - before.RcvbufErrors!, 0, 'no UDP receive-buffer drop in the namespace');
    t.equal(after.InErrors! - before.InErrors!, 0, 'no UDP input error');
    t.equal(after.NoPorts! - before.NoPorts!, 0, 'every unicast datagram met a socket (no ICMP unreachable)');
    t.ok(
      gh.logs.some((l) => l.event === 'dhcp.summary' && Number(l.offer) > 0),
      'the server answered the burst',
    );
  },
);
