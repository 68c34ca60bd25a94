/**
 * `dns.workers`: UDP answered by cluster workers sharing the socket; zones reach them over IPC
 * and a commit is visible through them as quickly as in-process.
 */
import t from 'tap';
import {
  GW,
  decodePacket,
  dig,
  lines,
  machine,
  putMachines,
  query,
  startDns,
  udpExchange,
} from './helpers.js';

t.test('two workers answer UDP, TCP stays in the main process, updates reach every worker', async (t) => {
  const fx = await startDns(t, { dns: { listen: ['127.0.0.1:0'], workers: 2 } });
  t.equal(fx.dns.udpAddresses().length, 1);
  t.equal(fx.dns.udpAddresses()[0], `127.0.0.1:${fx.port}`, 'workers bound the same port as TCP');
  await fx.put(GW);
  t.same(lines(await dig(fx.port, '+short', 'mdb.prolo')), ['192.168.1.254'], 'UDP through a worker');
  t.same(
    lines(await dig(fx.port, '+short', '+tcp', 'mdb.prolo')),
    ['192.168.1.254'],
    'TCP in the main process',
  );
  const delays: number[] = [];
  for (let i = 0; i < 5; i++) {
    const ip = `192.168.0.${100 + i}`;
    await putMachines(fx.app.store, machine('moving', ip));
    const committed = performance.now();
    // Many queries from fresh source ports so both workers are exercised.
    for (;;) {
      const rs = await Promise.all(
        Array.from({ length: 8 }, () => udpExchange(fx.port, query('moving.prolo', 'A'))),
      );
      if (rs.every((r) => r && decodePacket(r).answers[0]?.data === ip)) break;
      if (performance.now() - committed > 3000) break;
    }
    delays.push(performance.now() - committed);
  }
  delays.sort((a, b) => a - b);
  t.comment(
    `commit → answer through workers: median ${delays[2]!.toFixed(1)} ms, max ${delays[4]!.toFixed(1)} ms`,
  );
  t.ok(delays[2]! < 100, 'visible through every worker quickly');
  t.ok(delays[4]! < 3000, 'every change visible');
  await new Promise((r) => setTimeout(r, 1200));
  t.match(
    await fx.app.metrics.text(),
    /gatehouse_dns_queries_total\{transport="udp"\} [1-9]/,
    'worker counters reach the main registry',
  );
});
