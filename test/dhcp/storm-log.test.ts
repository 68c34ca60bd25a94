/**
 * Issue 13: the log of a boot storm must stay readable. 500 relayed DORAs (250 from PXE ROMs,
 * 250 from iPXE) as fast as the relay can send: at most 20 per-reply info lines a second, and
 * `dhcp.summary` lines whose counts add up to exactly what happened.
 */
import t from 'tap';
import type { DhcpServer } from '../../src/dhcp/server.js';
import { startGatehouse } from '../helpers/gatehouse.js';
import { type ClientMessage, clientBytes, viewReply } from './helpers.js';
import { RelayPeer } from './relay-peer.js';

const N = 500;
const RELAY = '127.0.0.1';

function mac(i: number): string {
  return `02:00:00:01:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
}

function client(i: number): Pick<ClientMessage, 'vendorClass' | 'userClass' | 'ipxe'> {
  return i % 2 === 0
    ? { vendorClass: 'PXEClient:Arch:00000:UNDI:002001' }
    : { vendorClass: 'PXEClient:Arch:00000:UNDI:002001', userClass: 'iPXE', ipxe: true };
}

/**
 * Sends the messages 50 at a time (the relay's default receive buffer holds ~170 replies) and
 * collects one reply per message (order free).
 */
async function burst(peer: RelayPeer, port: number, messages: Uint8Array[]) {
  const replies = [];
  for (let at = 0; at < messages.length; at += 50) {
    const batch = messages.slice(at, at + 50);
    for (const m of batch) peer.send(m, port);
    for (let i = 0; i < batch.length; i++) {
      const b = await peer.next(5000);
      if (!b) return replies;
      replies.push(viewReply(b));
    }
  }
  return replies;
}

t.test(`${N} DORAs: ≤ 20 per-reply info lines a second, summaries count them all`, async (t) => {
  const gh = await startGatehouse(t, {
    network: { alien: '127.0.0.0/16', alienGateway: '127.0.255.254' },
    dhcp: { listen: '127.0.0.1:0', alien: { rangeStart: '127.0.1.1', rangeEnd: '127.0.4.254' } },
  });
  const dhcp = gh.app.service<DhcpServer>('dhcp')!;
  const peer = await RelayPeer.open();
  t.teardown(() => peer.close());
  const port = dhcp.relayPort!;
  const started = Date.now();
  const offers = await burst(
    peer,
    port,
    Array.from({ length: N }, (_, i) =>
      clientBytes({ type: 'DISCOVER', mac: mac(i), xid: i, giaddr: RELAY, ...client(i) }),
    ),
  );
  t.equal(offers.length, N, 'every DISCOVER offered');
  const byXid = new Map(offers.map((o) => [o.xid, o]));
  const acks = await burst(
    peer,
    port,
    Array.from({ length: N }, (_, i) =>
      clientBytes({
        type: 'REQUEST',
        mac: mac(i),
        xid: i,
        giaddr: RELAY,
        serverId: byXid.get(i)!.serverId,
        requested: byXid.get(i)!.yiaddr,
        ...client(i),
      }),
    ),
  );
  t.equal(acks.filter((a) => a.type === 'ACK').length, N, 'every REQUEST acknowledged');
  const seconds = Math.ceil((Date.now() - started) / 1000) + 1;
  await gh.app.stop(); // flushes the last summary
  const info = gh.logs.filter((l) => l.level === 'info');
  const perReply = info.filter((l) => l.event === 'dhcp.offer' || l.event === 'dhcp.ack');
  t.ok(perReply.length >= 1, 'some per-reply lines remain, for a sample');
  t.ok(
    perReply.length <= 20 * seconds,
    `${perReply.length} per-reply info lines in ${seconds} s of traffic (≤ 20 a second)`,
  );
  const summaries = info.filter((l) => l.event === 'dhcp.summary');
  t.ok(summaries.length >= 1 && summaries.length <= seconds + 1, `${summaries.length} summary lines`);
  const total = (k: string) => summaries.reduce((n, l) => n + Number(l[k] ?? 0), 0);
  t.same(
    {
      discover: total('discover'),
      offer: total('offer'),
      request: total('request'),
      ack: total('ack'),
      nak: total('nak'),
      shed: total('shed'),
      pxe: total('pxe'),
      ipxe: total('ipxe'),
    },
    { discover: N, offer: N, request: N, ack: N, nak: 0, shed: 0, pxe: N, ipxe: N },
    'the summaries add up to what happened',
  );
  t.notOk(
    gh.logs.some((l) => l.event === 'dhcp.log_suppressed' && l.level !== 'debug'),
    'suppressed reply lines are noted at debug only (the summary counts them)',
  );
});
