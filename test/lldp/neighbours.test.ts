import t from 'tap';
import { formatNeighbours } from '../../src/cli/lldp.js';
import { CHASSIS_SUBTYPE, decodeLldpdu, encodeLldpdu, PORT_SUBTYPE } from '../../src/lldp/codec.js';
import { lldpConfigSchema } from '../../src/lldp/config.js';
import { LldpListener } from '../../src/lldp/listener.js';
import { NeighbourTable } from '../../src/lldp/neighbours.js';
import { createMemoryLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics.js';

function du(chassisHex: string, port: string, ttl: number, systemName = 'sw') {
  const r = decodeLldpdu(
    encodeLldpdu({
      chassisId: { subtype: CHASSIS_SUBTYPE.MAC_ADDRESS, raw: Buffer.from(chassisHex, 'hex') },
      portId: { subtype: PORT_SUBTYPE.INTERFACE_NAME, raw: Buffer.from(port) },
      ttl,
      systemName,
      portVlanId: 7,
    }),
  );
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

t.test('neighbour table: refresh, TTL expiry, shutdown LLDPDU, bound', async (t) => {
  let now = 1_000_000;
  const table = new NeighbourTable(2, () => now);
  t.equal(table.update('lan0', du('68b5999f4540', 'p1', 120), '02:00:00:00:00:01').result, 'new');
  now += 1000;
  t.equal(table.update('lan0', du('68b5999f4540', 'p1', 10), '02:00:00:00:00:01').result, 'refreshed');
  const [n] = table.list();
  t.equal(n!.chassis, '68:b5:99:9f:45:40');
  t.equal(n!.port, 'p1');
  t.equal(n!.systemName, 'sw');
  t.equal(n!.portVlanId, 7);
  t.equal(n!.firstSeen, new Date(1_000_000).toISOString(), 'first seen kept on refresh');
  t.equal(n!.lastSeen, new Date(1_001_000).toISOString());
  now += 9_999;
  t.equal(table.list().length, 1, 'alive until its TTL runs out');
  now += 1;
  t.equal(table.list().length, 0, 'expired after TTL');
  table.update('lan0', du('68b5999f4540', 'p1', 120), undefined);
  t.equal(table.update('lan0', du('68b5999f4540', 'p1', 0), undefined).result, 'removed', 'TTL 0 = shutdown');
  t.equal(table.size, 0);
  table.update('lan0', du('000000000001', 'a', 100), undefined);
  table.update('lan0', du('000000000002', 'a', 50), undefined);
  const third = table.update('lan0', du('000000000003', 'a', 100), undefined);
  t.same(third, { result: 'new', evicted: 1 });
  t.same(
    table.list().map((x) => x.chassis),
    ['00:00:00:00:00:01', '00:00:00:00:00:03'],
    'the entry closest to expiry made room',
  );
});

t.test('listener: frames are decoded into the table, malformed ones counted and ignored', async (t) => {
  const logger = createMemoryLogger('debug');
  const metrics = new Metrics();
  const listener = new LldpListener({
    config: lldpConfigSchema.parse({ enabled: true, interfaces: ['lan0'] }),
    logger,
    metrics,
    interfaceName: (i) => (i === 3 ? 'lan0' : undefined),
  });
  const hw = Buffer.from('0180c200000e02aabbccdd0188cc', 'hex');
  const packet = (payload: Buffer, hwProtocol = 0x88cc) => ({
    group: 35020,
    family: 5,
    hwProtocol,
    hook: 0,
    prefix: '',
    ifindex: 3,
    hwheader: hw,
    payload,
  });
  listener.handlePacket(
    packet(
      encodeLldpdu({
        chassisId: { subtype: 4, raw: Buffer.from('68b5999f4540', 'hex') },
        portId: { subtype: 5, raw: Buffer.from('ge-0/0/1') },
        ttl: 120,
        systemName: 'sw-kb-past-2',
      }),
    ),
  );
  for (let i = 0; i < 5; i++) listener.handlePacket(packet(Buffer.from([0x02, 0xff, 1, 2, 3])));
  listener.handlePacket(packet(Buffer.alloc(40), 0x0800));
  const list = listener.neighbours();
  t.equal(list.length, 1);
  t.match(list[0], {
    interface: 'lan0',
    chassis: '68:b5:99:9f:45:40',
    port: 'ge-0/0/1',
    systemName: 'sw-kb-past-2',
    sourceMac: '02:aa:bb:cc:dd:01',
  });
  const text = await metrics.text();
  t.match(text, /gatehouse_lldp_frames_total\{result="malformed"\} 5/);
  t.match(text, /gatehouse_lldp_frames_total\{result="new"\} 1/);
  t.match(text, /gatehouse_lldp_frames_total\{result="not_lldp"\} 1/);
  t.equal(
    logger.records.filter((r) => r.event === 'lldp.malformed').length,
    1,
    'malformed frames are logged rate-limited',
  );
  t.ok(logger.records.some((r) => r.event === 'lldp.neighbour_new' && r.chassis === '68:b5:99:9f:45:40'));
  const out = formatNeighbours(list);
  t.match(out, /^INTERFACE\s+CHASSIS\s+PORT\s+SYSTEM NAME/);
  t.match(out, /lan0\s+68:b5:99:9f:45:40\s+ge-0\/0\/1\s+sw-kb-past-2/);
  t.match(formatNeighbours([]), 'no LLDP neighbour seen yet');
});
