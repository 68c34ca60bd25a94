import t from 'tap';
import { createMemoryLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics.js';
import { type CtEntry, IPS, encodeCtEntry } from '../../src/nft/conntrack/codec.js';
import { ConntrackLogger } from '../../src/nft/conntrack/logger.js';
import { encodeMessage } from '../../src/nft/netlink/message.js';
import { dumpReply, fakeFactory } from './fake-kernel.js';

/** A NATed UDP flow from a LAN address to the Internet, masqueraded to 198.51.100.1. */
function flow(i: number, kind: CtEntry['kind'] = 'new', natted = true): CtEntry {
  return {
    kind,
    family: 2,
    orig: { src: '192.168.0.1', dst: '198.51.100.2', proto: 17, sport: 40000, dport: 10000 + i },
    reply: {
      src: '198.51.100.2',
      dst: natted ? '198.51.100.1' : '192.168.0.1',
      proto: 17,
      sport: 10000 + i,
      dport: 40000,
    },
    status: IPS.CONFIRMED | (natted ? IPS.SRC_NAT : 0),
    id: 1000 + i,
    timeout: 30,
  };
}

/** Polls a condition the fake kernel's timers will make true (bounded). */
async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const event = (e: CtEntry) => encodeMessage({ ...encodeCtEntry(e), seq: 0 });

function setup(t: { teardown(fn: () => unknown): void }, table: CtEntry[]) {
  const f = fakeFactory((raw) => {
    raw.respond = (m) =>
      (m.type & 0xff) === 1
        ? dumpReply(
            m,
            table.map((e) => encodeCtEntry({ ...e, kind: 'new' })),
          )
        : [];
  });
  const logger = createMemoryLogger();
  const lines: Array<{ e: CtEntry; recovered: boolean; login?: string }> = [];
  const ct = new ConntrackLogger({
    logger,
    metrics: new Metrics(),
    rawFactory: f,
    attribute: (ip) => (ip === '192.168.0.1' ? { hostname: 'm01', login: 'aproviste' } : {}),
    emit: (e, who, o) => lines.push({ e, recovered: o.recovered, login: who.login }),
  });
  t.teardown(() => ct.stop());
  return { f, ct, lines, logger, events: () => f.sockets.filter((s) => s.groups.includes(1)).at(-1)! };
}

t.test('NATed NEW events are logged once, with who held the address; others are not', async (t) => {
  const table = [flow(1)];
  const { ct, lines, events } = setup(t, table);
  await ct.start();
  t.same(lines, [], 'connections alive at start are remembered, not logged as new');
  const ev = events();
  ev.deliver(event(flow(1)));
  ev.deliver(event(flow(2)));
  ev.deliver(event(flow(2)));
  ev.deliver(event(flow(3, 'new', false)));
  ev.deliver(event(flow(4, 'update')));
  t.same(
    lines.map((l) => [l.e.orig.dport, l.recovered, l.login]),
    [[10002, false, 'aproviste']],
  );
  t.equal(ct.stats.notNatted, 1);
});

t.test('an overrun is counted, reported, and the resync dump recovers the lost connections', async (t) => {
  const table: CtEntry[] = [];
  const { ct, lines, logger, events } = setup(t, table);
  await ct.start();
  const ev = events();
  ev.deliver(event(flow(1)));
  table.push(flow(1), flow(2), flow(3), flow(4, 'new', false));
  t.doesNotThrow(() => ev.failRecv('ENOBUFS'));
  await waitFor(() => logger.records.some((r) => r.event === 'conntrack.events_lost'));
  const report = logger.records.find((r) => r.event === 'conntrack.events_lost')!;
  t.equal(report.lost, 2, 'the log says how many events were lost');
  t.equal(report.overruns, 1);
  t.same(
    lines.map((l) => [l.e.orig.dport, l.recovered]),
    [
      [10001, false],
      [10002, true],
      [10003, true],
    ],
  );
  t.equal(ct.stats.recovered, 2);
});

t.test('when the binding closes the event socket, the logger reopens it and resyncs', async (t) => {
  const table: CtEntry[] = [];
  const { ct, f, lines, logger, events } = setup(t, table);
  await ct.start();
  const first = events();
  table.push(flow(7));
  first.pollError();
  await waitFor(() => events() !== first);
  const second = events();
  t.not(second, first, 'a new event socket');
  t.same(second.groups, [1]);
  await waitFor(() => lines.length > 0);
  t.same(
    lines.map((l) => [l.e.orig.dport, l.recovered]),
    [[10007, true]],
  );
  t.equal(ct.stats.reopens, 1);
  t.ok(logger.records.some((r) => r.event === 'conntrack.socket_restarted'));
  second.deliver(event(flow(8)));
  t.equal(lines.length, 2, 'events flow on the new socket');
  t.ok(f.sockets.length >= 3);
});
