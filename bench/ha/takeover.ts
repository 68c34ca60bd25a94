/**
 * Takeover time of a hot-standby pair (docs/ha.md) over N failovers: the namespace pair of
 * test/helpers/ha-pair.ts (Gatehouse + keepalived, VRRPv3 at 200 ms, nopreempt), a prober in the
 * client namespace asking DNS (UDP, the floating address) and HTTP (/healthz, the floating
 * address) every 20 ms, and a DHCP prober in a namespace without addresses (the boot-storm
 * bench's raw client) sending an INIT-REBOOT REQUEST for its lease every 20 ms (RFC 2131
 * §4.3.2: broadcast, no server identifier; an ACK needs the lease database, so it counts only
 * once the new primary's DHCP service runs from the replicated leases). DHCP is on lan0 of both
 * gateways, primary-only, `ha.mode: sync`. Each round makes the gateway holding the address die (its LAN link goes
 * down, then kill -9 of Gatehouse and keepalived: test/helpers/ha-pair.ts), measures last answer
 * before → first answer after (answers after the kill completed can only come from the other
 * gateway), restarts the dead gateway
 * (it rejoins as standby and catches up) and goes on with the other. Needs root.
 *
 *   node --import tsx bench/ha/takeover.ts [--failovers 10]
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHaPair, HA_FLOATING, type HaGateway, until } from '../../test/helpers/ha-pair.js';
import { RemoteDhcp } from '../bootstorm/remote-dhcp.js';
import { arg } from '../cli-args.js';

const FAILOVERS = Number(arg('failovers', '10'));

/** Runs in the client namespace: prints `dns <ms>` / `http <ms>` for every answer. */
const PROBER = `
const dgram = require('node:dgram');
const http = require('node:http');
const q = Buffer.from([0x12,0x34,1,0,0,1,0,0,0,0,0,0,7,...Buffer.from('healthz'),5,...Buffer.from('prolo'),0,0,1,0,1]);
const s = dgram.createSocket('udp4');
s.on('message', () => process.stdout.write('dns ' + Date.now() + '\\n'));
setInterval(() => s.send(q, 53, '${HA_FLOATING}'), 20);
const agent = new http.Agent({ keepAlive: false });
setInterval(() => {
  const r = http.get({ host: '${HA_FLOATING}', path: '/healthz', timeout: 300, agent }, (res) => {
    res.resume();
    if (res.statusCode === 200) process.stdout.write('http ' + Date.now() + '\\n');
  });
  r.on('timeout', () => r.destroy());
  r.on('error', () => {});
}, 20);
`;

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-takeover-'));
const pair = await createHaPair({ prefix: 'hab', root, logLevel: 'warn', dhcp: { leaseTime: 3600 } });
const answers = { dns: [] as number[], http: [] as number[], dhcp: [] as number[] };
let prober: ChildProcess | undefined;
let dhcp: RemoteDhcp | undefined;
let probing = true;
try {
  await pair.start();
  dhcp = new RemoteDhcp('eth0', (await pair.addClient('d0')).name);
  await dhcp.open();
  const MAC = '52:54:00:ab:00:01';
  const first = await dhcp.dora(MAC, 'ipxe');
  if (!first.ok) throw new Error(`the DHCP prober got no lease (${first.reason})`);
  const leased = first.lease.ip;
  const dhcpProbe = async () => {
    while (probing) {
      void dhcp!.reboot(MAC, 'ipxe', leased, true).then((r) => {
        if (r.ok) answers.dhcp.push(Date.now());
      });
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  void dhcpProbe();
  prober = pair.client.spawn(process.execPath, ['-e', PROBER]);
  let buf = '';
  prober.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const [kind, ts] = buf.slice(0, i).split(' ');
      buf = buf.slice(i + 1);
      if (kind === 'dns' || kind === 'http') answers[kind].push(Number(ts));
    }
  });
  await until(
    'prober answers',
    () => answers.dns.length > 5 && answers.http.length > 5 && answers.dhcp.length > 5,
  );
  const rows: Array<{ dns: number; http: number; dhcp: number; vrrp: number }> = [];
  let primary: HaGateway = pair.g1;
  let standby: HaGateway = pair.g2;
  for (let round = 1; round <= FAILOVERS; round++) {
    await new Promise((r) => setTimeout(r, 500));
    const killedAt = Date.now();
    const silentAt = await primary.kill();
    const killedDone = Date.now();
    let vrrpAt = 0;
    await until(
      'the standby holds the address',
      async () => {
        if (await standby.holdsFloating()) vrrpAt = Date.now();
        return vrrpAt > 0;
      },
      30_000,
    );
    // Nothing the old gateway sends arrives after its link went down: answers after that come
    // from the new one.
    await until(
      'all answer again',
      () =>
        answers.dns.some((t) => t > silentAt) &&
        answers.http.some((t) => t > silentAt) &&
        answers.dhcp.some((t) => t > silentAt),
      30_000,
    );
    const gap = (xs: number[]) => {
      const before = xs.filter((t) => t <= silentAt).pop() ?? killedAt;
      const after = xs.find((t) => t > silentAt)!;
      return after - before;
    };
    const row = {
      dns: gap(answers.dns),
      http: gap(answers.http),
      dhcp: gap(answers.dhcp),
      vrrp: vrrpAt - silentAt,
    };
    rows.push(row);
    console.log(
      `failover ${round}: ${primary.name} → ${standby.name}: DNS ${row.dns} ms, HTTP ${row.http} ms, DHCP ${row.dhcp} ms (kill took ${killedDone - killedAt} ms; address on the standby after ${row.vrrp} ms)`,
    );
    // The dead gateway comes back as standby and catches up before the next round.
    await primary.startGatehouse();
    primary.startKeepalived();
    const [dead, alive] = [primary, standby];
    await until(
      'rejoined',
      async () => {
        const [s1, s2] = [await pair.status(dead), await pair.status(alive)];
        // The DHCP prober writes ~50 transactions/s: caught up = within a few of the primary.
        return (
          s1.role === 'standby' &&
          s2.role === 'primary' &&
          s1.appliedR !== undefined &&
          s2.appliedR !== undefined &&
          s2.appliedR - s1.appliedR <= 10
        );
      },
      60_000,
    );
    await new Promise((r) => setTimeout(r, 1500)); // keepalived of the returning gateway settles as BACKUP
    [primary, standby] = [alive, dead];
  }
  const stats = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return `median ${s[Math.floor(s.length / 2)]} ms, max ${s[s.length - 1]} ms`;
  };
  console.log(`## Takeover over ${rows.length} failovers (kill -9 of the primary gateway)`);
  console.log(`DNS:  ${stats(rows.map((r) => r.dns))}`);
  console.log(`HTTP: ${stats(rows.map((r) => r.http))}`);
  console.log(`DHCP: ${stats(rows.map((r) => r.dhcp))}`);
  console.log(`address on the standby (ip addr polled, ±100 ms): ${stats(rows.map((r) => r.vrrp))}`);
} finally {
  probing = false;
  prober?.kill('SIGKILL');
  await dhcp?.close();
  await pair.destroy();
  fs.rmSync(root, { recursive: true, force: true });
}
