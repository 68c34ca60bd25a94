/**
 * Issue 13: the UDP answer path is warmed at start by `dns.warmupQueries` synthetic queries to a
 * throwaway server on 127.0.0.1 (src/dns/warmup.ts), in the main process or in each UDP worker.
 * Nothing of it may be seen: no query counted, no log line but `dns.warmed_up`, the served
 * snapshot untouched; 0 turns it off.
 */
import t from 'tap';
import { metric } from '../tftp/helpers.js';
import { GW, decodePacket, query, startDns, udpExchange } from './helpers.js';

/** The engine's counters reach the metrics once a second (DnsService statsTimer). */
const afterStatsTick = () => new Promise((r) => setTimeout(r, 1300));

t.test('the warm-up answers through a throwaway server and leaves no trace', async (t) => {
  const fx = await startDns(t, { dns: { listen: ['127.0.0.1:0'], warmupQueries: 400 } });
  await fx.dns.warmedUp();
  const warmed = fx.logs.filter((l) => l.event === 'dns.warmed_up');
  t.equal(warmed.length, 1, 'one dns.warmed_up line');
  t.match(warmed[0], { level: 'info', processes: 1, queries: 400 });
  t.notOk('loopbackSkipped' in warmed[0]!, 'the queries went over 127.0.0.1');
  t.same(
    fx.logs.filter(
      (l) =>
        String(l.event).startsWith('dns.') && !['dns.started', 'dns.warmed_up'].includes(String(l.event)),
    ),
    [],
    'no other dns line',
  );
  const normal = fx.dns.snapshot.views.normal;
  t.equal(normal.fast.size, 0, "the served snapshot's answer cache is untouched");
  t.notOk(
    [...normal.names.keys()].some((k) => k.includes('gatehouse-warmup')),
    'no synthetic name in the served zones',
  );
  await afterStatsTick();
  const text = await fx.app.metrics.text();
  t.equal(metric(text, 'gatehouse_dns_queries_total', { transport: 'udp' }), 0, 'no query counted');

  await fx.put(GW);
  const r = await udpExchange(fx.port, query('mdb.prolo', 'A'));
  t.equal(decodePacket(r!).answers[0]?.data, '192.168.1.254', 'a real query is answered');
  await afterStatsTick();
  const after = await fx.app.metrics.text();
  t.equal(
    metric(after, 'gatehouse_dns_queries_total', { transport: 'udp' }),
    1,
    'exactly the real one counted',
  );
});

t.test('each UDP worker warms up; one line for all', async (t) => {
  const fx = await startDns(t, { dns: { listen: ['127.0.0.1:0'], workers: 1, warmupQueries: 200 } });
  await fx.dns.warmedUp();
  const warmed = fx.logs.filter((l) => l.event === 'dns.warmed_up');
  t.equal(warmed.length, 1, 'one dns.warmed_up line');
  t.match(warmed[0], { processes: 1, queries: 200 });
  await afterStatsTick();
  const text = await fx.app.metrics.text();
  t.equal(metric(text, 'gatehouse_dns_queries_total', { transport: 'udp' }), 0, 'no query counted');
});

t.test('dns.warmupQueries 0: no warm-up', async (t) => {
  const fx = await startDns(t, { dns: { listen: ['127.0.0.1:0'], warmupQueries: 0 } });
  await fx.dns.warmedUp();
  t.notOk(
    fx.logs.some((l) => l.event === 'dns.warmed_up'),
    'no dns.warmed_up line',
  );
});
