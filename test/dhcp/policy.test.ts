import t from 'tap';
import { encodePacket } from '../../src/dhcp/codec.js';
import { type HostLookup, staticHosts } from '../../src/dhcp/hosts.js';
import { formatIp, ip } from '../../src/dhcp/ipv4.js';
import { type LeaseRecord, LeaseEngine } from '../../src/dhcp/leases.js';
import { buildPlan, type DhcpPlan } from '../../src/dhcp/plan.js';
import { type Decision, decide } from '../../src/dhcp/policy.js';
import { buildReply, type Destination } from '../../src/dhcp/reply.js';
import { defaultConfig } from '../../src/config/index.js';
import type { GatehouseConfigInput } from '../../src/config/index.js';
import type { Machine } from '../../src/mdb/model.js';
import { type ClientMessage, type ReplyView, clientRequest, machine, viewReply } from './helpers.js';

const KNOWN = machine('pas-r01p01', 'aa:bb:cc:dd:ee:01', '192.168.0.1');
const SERVICE = machine('rhfs0', 'aa:bb:cc:dd:ee:02', '192.168.1.10', 'service');
const CLUSTER = machine('cl-node1', 'aa:bb:cc:dd:ee:03', '192.168.2.1', 'cluster');
const ALIEN = '02:00:00:00:99:01';
const ALIEN2 = '02:00:00:00:99:02';
const T0 = 1_700_000_000_000;
const GW = '192.168.1.254';
const AGW = '192.168.250.254';

/** A policy test bench: plan, hosts, lease engine (rows kept in memory) and a clock. */
function bench(opts: { config?: GatehouseConfigInput; machines?: Machine[]; probationUntil?: number } = {}) {
  const plan: DhcpPlan = buildPlan(defaultConfig(opts.config ?? {}));
  let machines = opts.machines ?? [KNOWN, SERVICE, CLUSTER];
  const hosts: HostLookup = { byMac: (mac) => staticHosts(machines).byMac(mac) };
  const rows: LeaseRecord[] = [];
  const engine = new LeaseEngine(
    { start: plan.alien.start, end: plan.alien.end },
    { persist: (r) => rows.push(r) },
  );
  engine.load([], opts.probationUntil ?? 0);
  const b = {
    plan,
    engine,
    rows,
    now: T0,
    iface: 'lan0' as string | undefined,
    setMachines(ms: Machine[]) {
      machines = ms;
    },
    /** Runs one message through decide, applies its lease op, and encodes the reply (if any). */
    run(m: ClientMessage): { decision: Decision; reply?: ReplyView; to?: Destination } {
      const req = clientRequest(m);
      const decision = decide(plan, hosts, engine, {
        req,
        now: b.now,
        iface: b.iface,
        broadcast: !m.ciaddr,
        isServerId: (a) => a === ip(GW) || a === ip(AGW),
      });
      if ('lease' in decision && decision.lease) engine.apply(decision.lease, b.now);
      if (decision.action === 'drop') return { decision };
      const serverId = ip(decision.action !== 'nak' && decision.profile.who === 'alien' ? AGW : GW);
      const r = buildReply(decision, req, serverId, { relay: 67, client: 68 });
      return { decision, reply: viewReply(encodePacket(r.message, { maxSize: r.maxSize }).bytes), to: r.to };
    },
  };
  return b;
}

const WITH_175 = [1, 3, 6, 12, 15, 66, 67, 175];

t.test('scenario 33: known contestant machine gets its MDB address and the §5.2 options', async (t) => {
  const b = bench();
  const { decision, reply } = b.run({ type: 'DISCOVER', mac: KNOWN.mac, prl: WITH_175 });
  t.match(decision, { action: 'offer', case: 'known', machine: 'pas-r01p01' });
  t.match(reply, {
    type: 'OFFER',
    yiaddr: '192.168.0.1',
    mask: '255.255.254.0',
    router: GW,
    dns: GW,
    hostname: 'pas-r01p01',
    domain: 'prolo',
    leaseTime: 14400,
    siaddr: GW,
    file: 'prologin.kpxe',
    serverId: GW,
    ipxe: { 176: 1 },
  });
  t.notOk(reply?.ipxe?.[81], 'no scriptlet for a known machine');
  const plain = b.run({ type: 'DISCOVER', mac: KNOWN.mac, prl: [1, 3, 6, 12, 15] }).reply!;
  t.equal(plain.size, 300, 'a short reply is padded to the BOOTP minimum');
  t.notOk('ipxe' in plain, 'option 175 only when the client asks for it');
  t.equal(b.rows.length, 0, 'known machines create no lease rows');
  const ack = b.run({
    type: 'REQUEST',
    mac: KNOWN.mac,
    serverId: GW,
    requested: '192.168.0.1',
    prl: WITH_175,
  });
  t.match(ack, {
    decision: { action: 'ack', case: 'known', state: 'selecting' },
    reply: { type: 'ACK', yiaddr: '192.168.0.1', hostname: 'pas-r01p01', leaseTime: 14400 },
  });
});

t.test('scenario 34: known service machine gets arch.kpxe', async (t) => {
  const { reply } = bench().run({ type: 'DISCOVER', mac: SERVICE.mac });
  t.match(reply, {
    type: 'OFFER',
    yiaddr: '192.168.1.10',
    file: 'arch.kpxe',
    mask: '255.255.254.0',
    router: GW,
    hostname: 'rhfs0',
  });
});

t.test('scenario 35: unknown MAC gets an alien lease of 30 s with scriptlet=alien', async (t) => {
  const b = bench();
  const offer = b.run({ type: 'DISCOVER', mac: ALIEN, prl: WITH_175 });
  t.match(offer.decision, { action: 'offer', case: 'alien', why: 'free', lease: { op: 'hold' } });
  const r = offer.reply!;
  const n = ip(r.yiaddr);
  t.ok(n >= ip('192.168.250.1') && n <= ip('192.168.250.200'), `address ${r.yiaddr} in .1-.200`);
  t.match(r, {
    leaseTime: 30,
    mask: '255.255.255.0',
    router: AGW,
    dns: AGW,
    siaddr: AGW,
    domain: 'prolo',
    file: 'prologin.kpxe',
    serverId: AGW,
    ipxe: { 176: 1, 81: 'alien' },
  });
  t.notOk(r.hostname, 'no host name for aliens');
  t.equal(b.rows.length, 0, 'an offer is not persisted');
  const ack = b.run({ type: 'REQUEST', mac: ALIEN, serverId: AGW, requested: r.yiaddr, prl: WITH_175 });
  t.match(ack, {
    decision: { action: 'ack', case: 'alien', state: 'selecting' },
    reply: { type: 'ACK', yiaddr: r.yiaddr, leaseTime: 30, ipxe: { 81: 'alien' } },
  });
  t.match(b.rows.at(-1), { ip: r.yiaddr, mac: ALIEN, state: 'bound', expires: T0 + 30_000 });
  const again = b.run({ type: 'DISCOVER', mac: ALIEN });
  t.match(
    again.decision,
    { action: 'offer', yiaddr: n, why: 'existing-lease' },
    'same address while the lease runs',
  );
});

t.test(
  'scenario 36: a registered alien gets its fixed address and no scriptlet; its old lease is refused',
  async (t) => {
    const b = bench();
    const offer = b.run({ type: 'DISCOVER', mac: ALIEN, prl: WITH_175 }).reply!;
    b.run({ type: 'REQUEST', mac: ALIEN, serverId: AGW, requested: offer.yiaddr, prl: WITH_175 });
    b.setMachines([KNOWN, machine('newmachine', ALIEN, '192.168.0.2')]);
    const reboot = b.run({ type: 'REQUEST', mac: ALIEN, requested: offer.yiaddr, prl: WITH_175 });
    t.match(reboot, {
      decision: { action: 'nak', reason: 'not-your-address', state: 'init-reboot' },
      reply: { type: 'NAK', yiaddr: '0.0.0.0', file: '' },
    });
    const { reply } = b.run({ type: 'DISCOVER', mac: ALIEN, prl: WITH_175 });
    t.match(reply, {
      type: 'OFFER',
      yiaddr: '192.168.0.2',
      hostname: 'newmachine',
      file: 'prologin.kpxe',
      ipxe: { 176: 1 },
    });
    t.notOk(reply?.ipxe?.[81], 'no scriptlet: iPXE chains to /boot/<mac>/');
  },
);

t.test('scenario 37: a known cluster machine gets nothing', async (t) => {
  const b = bench();
  t.match(b.run({ type: 'DISCOVER', mac: CLUSTER.mac }).decision, {
    action: 'drop',
    reason: 'host-not-served',
  });
  t.match(b.run({ type: 'REQUEST', mac: CLUSTER.mac, requested: '192.168.2.1' }).decision, {
    action: 'drop',
    reason: 'host-not-served',
  });
  const v6 = bench({ machines: [machine('v6', 'aa:bb:cc:dd:ee:09', 'fd00::1')] });
  t.match(v6.run({ type: 'DISCOVER', mac: 'aa:bb:cc:dd:ee:09' }).decision, {
    action: 'drop',
    reason: 'host-not-served',
  });
});

t.test('boot file by client architecture (option 93) from the configurable map', async (t) => {
  const b = bench();
  const cases: Array<[arch: number | undefined, mac: string, file: string, httpClient: boolean]> = [
    [undefined, KNOWN.mac, 'prologin.kpxe', false],
    [0, KNOWN.mac, 'prologin.kpxe', false],
    [7, KNOWN.mac, 'prologin.efi', false],
    [9, KNOWN.mac, 'prologin.efi', false],
    [16, KNOWN.mac, 'http://netboot/prologin.efi', true],
    [11, KNOWN.mac, 'prologin.kpxe', false],
    [9, SERVICE.mac, 'arch.efi', false],
    [9, ALIEN, 'prologin.efi', false],
  ];
  for (const [arch, mac, file, http] of cases) {
    const { reply } = b.run({ type: 'DISCOVER', mac, arch, prl: [1, 3, 6, 67] });
    t.equal(reply?.file, file, `arch ${arch} ${mac}`);
    t.equal(reply?.bootfileOption, file, 'option 67 too, since the client asked for it');
    t.equal(
      reply?.vendorClass,
      http ? 'HTTPClient' : undefined,
      'UEFI HTTP boot clients get option 60 HTTPClient',
    );
  }
  const custom = bench({
    config: {
      dhcp: {
        subnets: [{ network: '192.168.0.0/24', bootFile: 'x.kpxe', archBootFiles: { '9': 'x64.efi' } }],
      },
    },
  });
  t.equal(custom.run({ type: 'DISCOVER', mac: KNOWN.mac, arch: 9 }).reply?.file, 'x64.efi');
  t.equal(custom.run({ type: 'DISCOVER', mac: KNOWN.mac }).reply?.file, 'x.kpxe');
});

t.test('iPXE detection: chain URL as file name, same options (scriptlet) as the PXE ROM gets', async (t) => {
  const b = bench();
  const byClass = b.run({ type: 'DISCOVER', mac: ALIEN, userClass: 'iPXE', prl: WITH_175 }).reply!;
  t.match(byClass, { file: 'http://netboot/bootstrap', ipxe: { 176: 1, 81: 'alien' }, leaseTime: 30 });
  const by175 = b.run({ type: 'DISCOVER', mac: KNOWN.mac, ipxe: true, prl: WITH_175 }).reply!;
  t.match(by175, { file: 'http://netboot/bootstrap', hostname: 'pas-r01p01', ipxe: { 176: 1 } });
  const service = b.run({ type: 'DISCOVER', mac: SERVICE.mac, userClass: 'iPXE', prl: WITH_175 }).reply!;
  t.equal(service.file, 'arch.kpxe', 'the service subnet keeps its own iPXE image (chain disabled there)');
  const off = bench({ config: { dhcp: { ipxe: { detect: false } } } });
  t.equal(off.run({ type: 'DISCOVER', mac: ALIEN, userClass: 'iPXE' }).reply?.file, 'prologin.kpxe');
  const url = bench({ config: { dhcp: { ipxe: { chainUrl: 'http://netboot/other' } } } });
  t.equal(
    url.run({ type: 'DISCOVER', mac: KNOWN.mac, userClass: 'iPXE' }).reply?.file,
    'http://netboot/other',
  );
});

t.test('REQUEST states (RFC 2131 §4.3.2) and authoritative NAKs', async (t) => {
  const b = bench();
  const offer = b.run({ type: 'DISCOVER', mac: ALIEN }).reply!;
  t.match(b.run({ type: 'REQUEST', mac: ALIEN, serverId: '10.9.9.9', requested: offer.yiaddr }).decision, {
    action: 'drop',
    reason: 'other-server-chosen',
    lease: { op: 'unhold', mac: ALIEN },
  });
  t.equal(b.engine.ownerOf(ip(offer.yiaddr), b.now), undefined, 'the declined offer is released at once');
  const ack = b.run({ type: 'REQUEST', mac: ALIEN, requested: offer.yiaddr });
  t.match(
    ack.decision,
    { action: 'ack', state: 'init-reboot' },
    'INIT-REBOOT of a free pool address is granted',
  );
  const renew = b.run({ type: 'REQUEST', mac: ALIEN, ciaddr: offer.yiaddr });
  t.match(renew, {
    decision: { action: 'ack', state: 'renewing' },
    reply: { ciaddr: offer.yiaddr },
    to: { reason: 'ciaddr', ip: ip(offer.yiaddr), port: 68 },
  });
  t.match(b.run({ type: 'REQUEST', mac: ALIEN2, requested: offer.yiaddr }).decision, {
    action: 'nak',
    reason: 'address-in-use',
  });
  t.match(b.run({ type: 'REQUEST', mac: ALIEN2, requested: '10.0.0.5' }).decision, {
    action: 'nak',
    reason: 'wrong-network',
  });
  t.match(b.run({ type: 'REQUEST', mac: ALIEN2, requested: '192.168.250.230' }).decision, {
    action: 'nak',
    reason: 'not-in-pool',
  });
  t.match(b.run({ type: 'REQUEST', mac: ALIEN2, requested: '192.168.0.7' }).decision, {
    action: 'nak',
    reason: 'not-in-pool',
  });
  t.match(b.run({ type: 'REQUEST', mac: KNOWN.mac, requested: '192.168.0.9' }), {
    decision: { action: 'nak', reason: 'not-your-address' },
    to: { ip: 0xffffffff, port: 68, reason: 'nak' },
  });
  t.match(b.run({ type: 'REQUEST', mac: ALIEN2 }).decision, {
    action: 'drop',
    reason: 'request-without-address',
  });
  const rebinding = b.run({ type: 'REQUEST', mac: KNOWN.mac, ciaddr: '192.168.0.1' });
  t.match(rebinding.decision, { action: 'ack', case: 'known', state: 'renewing' });
});

t.test('relayed requests: subnet from giaddr, answer to the relay, option 82 echoed', async (t) => {
  const b = bench();
  b.iface = undefined; // the relay-only socket
  const agent = Uint8Array.of(1, 4, 0, 0, 0, 7, 2, 2, 0xab, 0xcd);
  const r = b.run({
    type: 'DISCOVER',
    mac: ALIEN,
    giaddr: '192.168.250.10',
    relayAgent: agent,
    clientId: '0102000000990a',
  });
  t.match(r.to, { ip: ip('192.168.250.10'), port: 67, reason: 'relay' });
  t.match(r.reply, {
    type: 'OFFER',
    giaddr: '192.168.250.10',
    relayAgent: Buffer.from(agent).toString('hex'),
    clientId: '0102000000990a',
  });
  t.equal(r.reply?.codes.at(-1), 82, 'option 82 is the last option');
  t.match(b.run({ type: 'DISCOVER', mac: ALIEN, giaddr: '10.1.1.1' }).decision, {
    action: 'drop',
    reason: 'relay-network-not-served',
  });
  t.match(
    b.run({ type: 'DISCOVER', mac: ALIEN }).decision,
    { action: 'drop', reason: 'not-relayed' },
    'no ingress interface, no answer',
  );
  const known = b.run({ type: 'DISCOVER', mac: KNOWN.mac, giaddr: '192.168.1.200' });
  t.match(known.reply, { yiaddr: '192.168.0.1', giaddr: '192.168.1.200' });
  const nak = b.run({ type: 'REQUEST', mac: KNOWN.mac, requested: '192.168.0.77', giaddr: '192.168.1.200' });
  t.match(nak, { reply: { type: 'NAK' }, to: { ip: ip('192.168.1.200'), reason: 'relay' } });
  t.equal((nak.reply!.flags & 0x8000) !== 0, true, 'a relayed NAK asks the relay to broadcast');
});

t.test('reply destinations on the LAN (RFC 2131 §4.1)', async (t) => {
  const b = bench();
  t.match(b.run({ type: 'DISCOVER', mac: KNOWN.mac, broadcastFlag: true }).to, {
    ip: 0xffffffff,
    reason: 'broadcast-flag',
  });
  t.match(b.run({ type: 'DISCOVER', mac: KNOWN.mac }).to, { ip: 0xffffffff, reason: 'no-arp-entry' });
  const inform = b.run({ type: 'INFORM', mac: KNOWN.mac, ciaddr: '192.168.0.1' });
  t.match(inform, {
    decision: { action: 'ack', case: 'inform' },
    to: { reason: 'ciaddr', ip: ip('192.168.0.1') },
    reply: { type: 'ACK', yiaddr: '0.0.0.0', ciaddr: '192.168.0.1', hostname: 'pas-r01p01' },
  });
  t.notOk(inform.reply && 'leaseTime' in inform.reply, 'no lease time in an INFORM answer');
  t.match(b.run({ type: 'INFORM', mac: ALIEN, ciaddr: '192.168.250.77' }).reply, {
    type: 'ACK',
    router: AGW,
    mask: '255.255.255.0',
  });
  t.match(b.run({ type: 'INFORM', mac: ALIEN, ciaddr: '10.0.0.1' }).decision, {
    action: 'drop',
    reason: 'inform-not-served',
  });
  t.match(b.run({ type: 'OFFER', mac: ALIEN }).decision, { action: 'drop', reason: 'server-message' });
});

t.test('DECLINE quarantines the address (owner only); RELEASE frees it', async (t) => {
  const b = bench();
  const a = b.run({ type: 'DISCOVER', mac: ALIEN }).reply!.yiaddr;
  b.run({ type: 'REQUEST', mac: ALIEN, serverId: AGW, requested: a });
  t.match(b.run({ type: 'DECLINE', mac: ALIEN2, requested: a }).decision, {
    action: 'drop',
    reason: 'decline-not-owner',
  });
  t.match(b.run({ type: 'DECLINE', mac: ALIEN, requested: a, serverId: AGW }).decision, {
    action: 'drop',
    reason: 'declined',
  });
  t.match(b.rows.at(-1), { ip: a, state: 'declined', expires: T0 + 600_000 });
  const next = b.run({ type: 'DISCOVER', mac: ALIEN }).reply!.yiaddr;
  t.not(next, a, 'the declined address is not offered again');
  t.match(b.run({ type: 'REQUEST', mac: ALIEN2, requested: a }).decision, {
    action: 'nak',
    reason: 'declined',
  });
  b.run({ type: 'REQUEST', mac: ALIEN, serverId: AGW, requested: next });
  t.match(b.run({ type: 'RELEASE', mac: ALIEN2, ciaddr: next }).decision, {
    action: 'drop',
    reason: 'release-not-owner',
  });
  t.match(b.run({ type: 'RELEASE', mac: ALIEN, ciaddr: next, serverId: AGW }).decision, {
    action: 'drop',
    reason: 'released',
  });
  t.equal(b.engine.ownerOf(ip(next), b.now), undefined);
  t.match(b.rows.at(-1), { ip: next, state: 'released' });
  t.match(b.run({ type: 'DECLINE', mac: KNOWN.mac, requested: '192.168.0.1' }).decision, {
    action: 'drop',
    reason: 'fixed-address-declined',
  });
  b.now += 600_001;
  t.match(
    b.run({ type: 'REQUEST', mac: ALIEN2, requested: a }).decision,
    { action: 'ack' },
    'quarantine ends',
  );
});

t.test('offer hold, expiry and reuse', async (t) => {
  const b = bench({
    config: { dhcp: { alien: { rangeStart: '192.168.250.1', rangeEnd: '192.168.250.2' } } },
  });
  const a = b.run({ type: 'DISCOVER', mac: ALIEN }).reply!.yiaddr;
  const c = b.run({ type: 'DISCOVER', mac: ALIEN2 }).reply!.yiaddr;
  t.not(a, c, 'a held offer is not given to another client');
  const third = b.run({ type: 'DISCOVER', mac: '02:00:00:00:99:03' });
  t.match(third.decision, { action: 'drop', reason: 'pool-exhausted' }, 'pool exhaustion gives no offer');
  b.now += 10_001;
  t.match(
    b.run({ type: 'DISCOVER', mac: '02:00:00:00:99:03' }).decision,
    { action: 'offer', why: 'free' },
    'holds expire',
  );
  b.run({ type: 'REQUEST', mac: '02:00:00:00:99:03', serverId: AGW, requested: a });
  b.now += 30_001;
  const back = b.run({ type: 'DISCOVER', mac: '02:00:00:00:99:03' });
  t.match(
    back.decision,
    { action: 'offer', yiaddr: ip(a), why: 'previous-address' },
    'an expired lease returns to its owner first',
  );
  b.now += 10_001;
  t.match(
    b.run({ type: 'DISCOVER', mac: ALIEN }).decision,
    { action: 'offer' },
    'expired addresses are reused',
  );
});

t.test(
  'probation after an unclean stop: no new addresses, reclaims and existing leases served',
  async (t) => {
    const b = bench({ probationUntil: T0 + 30_000 });
    t.match(b.run({ type: 'DISCOVER', mac: ALIEN }).decision, { action: 'drop', reason: 'probation' });
    t.match(
      b.run({ type: 'REQUEST', mac: ALIEN, ciaddr: '192.168.250.40' }).decision,
      { action: 'ack', state: 'renewing' },
      'a client whose lease row was lost reclaims it',
    );
    t.match(b.run({ type: 'DISCOVER', mac: ALIEN }).decision, {
      action: 'offer',
      yiaddr: ip('192.168.250.40'),
      why: 'existing-lease',
    });
    t.match(b.run({ type: 'REQUEST', mac: ALIEN2, requested: '192.168.250.40' }).decision, {
      action: 'nak',
      reason: 'address-in-use',
    });
    t.match(
      b.run({ type: 'DISCOVER', mac: KNOWN.mac }).decision,
      { action: 'offer', case: 'known' },
      'known machines are not affected',
    );
    b.now += 30_000;
    t.match(
      b.run({ type: 'DISCOVER', mac: ALIEN2 }).decision,
      { action: 'offer', why: 'free' },
      'probation ends',
    );
  },
);

t.test('leases load from rows and the newest row per MAC wins', async (t) => {
  const b = bench();
  const row = (
    ipAddr: string,
    mac: string,
    updatedAt: number,
    state: LeaseRecord['state'] = 'bound',
  ): LeaseRecord => ({
    ip: ipAddr,
    mac,
    clientId: null,
    hostname: null,
    state,
    starts: updatedAt,
    expires: updatedAt + 30_000,
    updatedAt,
  });
  const e = new LeaseEngine({ start: b.plan.alien.start, end: b.plan.alien.end }, { persist: () => {} });
  e.load([
    row('192.168.250.5', ALIEN, T0 - 100, 'released'),
    row('192.168.250.9', ALIEN, T0),
    row('10.0.0.1', ALIEN2, T0),
  ]);
  t.equal(formatIp(e.addressOf(ALIEN, T0)!), '192.168.250.9');
  t.match(e.proposeOffer(ALIEN, undefined, T0), { ok: true, why: 'existing-lease', ip: ip('192.168.250.9') });
  t.ok(
    e.snapshot(T0).some((r) => r.ip === '10.0.0.1'),
    'rows outside the range are kept for listings',
  );
  t.match(e.counts(T0), { size: 200, bound: 1, free: 199 });
});
