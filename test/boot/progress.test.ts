import fc from 'fast-check';
import t from 'tap';
import { BootProgress, type BootProgressEntry, currentPhase } from '../../src/boot/progress.js';
import { formatBootStatus } from '../../src/cli/boot.js';

const A = 'aa:bb:cc:dd:ee:01';
const B = 'aa:bb:cc:dd:ee:02';

t.test('phases of one machine: last time of each, by MAC in any spelling', async (t) => {
  const p = new BootProgress();
  p.record('AA-BB-CC-DD-EE-01', 'dhcpPxe', 1000);
  p.record(A, 'dhcpPxe', 1500);
  p.record(A, 'dhcpPxe', 1200); // late report of an older event
  p.record(A, 'dhcpIpxe', 3000);
  t.same(p.snapshot(), [{ mac: A, phases: { dhcpPxe: 1500, dhcpIpxe: 3000 } }]);
  t.equal(currentPhase(p.snapshot()[0]!), 'dhcpIpxe');
  t.same(p.counts(), { dhcpPxe: 0, tftpDone: 0, dhcpIpxe: 1, bootScript: 0 });
});

t.test('TFTP reports by address: mapped through DHCP leases, then MDB', async (t) => {
  const p = new BootProgress({
    lookup: {
      byMac: (mac) =>
        mac === B ? { mac: B, ip: '10.0.0.2', hostname: 'pas-r01p02', room: 'pasteur' } : undefined,
      byIp: (ip) => (ip === '10.0.0.2' ? { mac: B } : undefined),
    },
  });
  p.record(A, 'dhcpPxe', 1);
  p.learnAddress(A, '192.168.250.7');
  p.record('192.168.250.7', 'tftpDone', 2);
  p.record('10.0.0.2', 'tftpDone', 3);
  p.record('10.9.9.9', 'tftpDone', 4);
  p.record('not an address', 'tftpDone', 5);
  t.equal(p.unidentified, 2, 'an address nobody names, and garbage, are counted, not stored');
  t.same(p.snapshot(), [
    { mac: A, ip: '192.168.250.7', phases: { dhcpPxe: 1, tftpDone: 2 } },
    { mac: B, ip: '10.0.0.2', hostname: 'pas-r01p02', room: 'pasteur', phases: { tftpDone: 3 } },
  ]);
});

t.test('onChange: live listeners, unsubscribe, a throwing listener harms nobody', async (t) => {
  const p = new BootProgress();
  const seen: string[] = [];
  p.onChange(() => {
    throw new Error('buggy view');
  });
  const off = p.onChange((e, phase) => seen.push(`${e.mac} ${phase}`));
  p.record(A, 'bootScript', 1);
  off();
  p.record(A, 'bootScript', 2);
  t.same(seen, [`${A} bootScript`]);
});

t.test('memory is bounded: past maxEntries the machine updated longest ago goes', async () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 300 }), (ids) => {
      const p = new BootProgress({ maxEntries: 10 });
      const mac = (i: number) => `02:00:00:00:00:${i.toString(16).padStart(2, '0')}`;
      for (const [n, i] of ids.entries()) p.record(mac(i), 'dhcpPxe', n);
      const kept = new Set(p.snapshot().map((e) => e.mac));
      const lastTen = [...new Set([...ids].reverse())].slice(0, 10).map(mac);
      return p.size <= 10 && lastTen.every((m) => kept.has(m)) && kept.size === lastTen.length;
    }),
  );
});

t.test('gatehouse boot status table: one row per room, machines in their latest phase', async (t) => {
  const machines: BootProgressEntry[] = [
    { mac: A, room: 'pasteur', phases: { dhcpPxe: 1, tftpDone: 2, dhcpIpxe: 3, bootScript: 4 } },
    { mac: B, room: 'pasteur', phases: { dhcpPxe: 1, tftpDone: 2 } },
    { mac: 'aa:bb:cc:dd:ee:03', room: 'alt', phases: { dhcpPxe: 1 } },
    { mac: 'aa:bb:cc:dd:ee:04', phases: { dhcpIpxe: 9 } },
  ];
  const text = formatBootStatus({
    counts: { dhcpPxe: 1, tftpDone: 1, dhcpIpxe: 1, bootScript: 1 },
    machines,
    unidentified: 0,
  });
  const rows = text.split('\n').map((l) => l.split(/\s+/));
  t.same(rows[0], ['ROOM', 'DHCP-PXE', 'TFTP-DONE', 'DHCP-IPXE', 'BOOT-SCRIPT', 'SEEN']);
  t.same(rows[1], ['-', '0', '0', '1', '0', '1']);
  t.same(rows[2], ['alt', '1', '0', '0', '0', '1']);
  t.same(rows[3], ['pasteur', '0', '1', '0', '1', '2']);
  t.same(rows[4], ['total', '1', '1', '1', '1', '4']);
});
