import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import t from 'tap';
import {
  type CtEntry,
  IPS,
  decodeCtMessage,
  encodeCtEntry,
  isNatted,
} from '../../src/nft/conntrack/codec.js';
import { connectionLine, conntrackText } from '../../src/nft/conntrack/format.js';
import { NetlinkDecodeError } from '../../src/nft/netlink/attr.js';
import { decodeMessages, encodeMessage } from '../../src/nft/netlink/message.js';
import { type NflogPacket, decodeNflogPacket, encodeNflogPacket } from '../../src/nft/nflog/codec.js';
import { kernelLogText } from '../../src/nft/nflog/log-line.js';

/**
 * Golden messages captured from the kernel here (6.18) in a scratch namespace: a ctnetlink NEW
 * event (group 1) and an nflog packet (`ct state new ip protocol icmp log prefix "cap " group 9`),
 * both for `ping -c1 127.0.0.1`.
 */
const CT_NEW_EVENT =
  'a4000000000100060000000000000000020000003c00018014000180080001007f000001080002007f000001240002800500010001000000060004007c500000050005000800000005000600000000003c00028014000180080001007f000001080002007f000001240002800500010001000000060004007c5000000500050000000000050006000000000008000c004a8c325b0800030000000008080007000000001e';
const NFLOG_PACKET =
  '9800000000040000000000000000000002000009080001000800030009000a006361702000000000080005000000000108000b000000000008000e00000000005800090045000054ceb3400040016df37f0000017f0000010800c0267c500001ab6e096b0000000043db040000000000101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637';

t.test('a real ctnetlink NEW event decodes, and prints as conntrack -E does', async (t) => {
  const [m] = decodeMessages(Buffer.from(CT_NEW_EVENT, 'hex'));
  const e = decodeCtMessage(m!);
  t.equal(e.kind, 'new');
  t.equal(e.family, 2);
  t.same(e.orig, { src: '127.0.0.1', dst: '127.0.0.1', proto: 1, icmpId: 0x7c50, icmpType: 8, icmpCode: 0 });
  t.same(e.reply, { src: '127.0.0.1', dst: '127.0.0.1', proto: 1, icmpId: 0x7c50, icmpType: 0, icmpCode: 0 });
  t.equal(e.status, IPS.CONFIRMED);
  t.equal(e.timeout, 30);
  t.equal(e.id, 0x4a8c325b);
  t.notOk(isNatted(e), 'loopback ping is not NATed');
  // The line `conntrack -E` printed for the same kind of event in the same namespace.
  t.equal(
    conntrackText(e),
    '[NEW] icmp     1 30 src=127.0.0.1 dst=127.0.0.1 type=8 code=0 id=31824 [UNREPLIED] src=127.0.0.1 dst=127.0.0.1 type=0 code=0 id=31824',
  );
});

t.test('NAT detection and the connection-log line of scenario 77', async (t) => {
  const e: CtEntry = {
    kind: 'new',
    family: 2,
    orig: { src: '192.168.0.12', dst: '1.2.3.4', proto: 6, sport: 40312, dport: 443 },
    reply: { src: '1.2.3.4', dst: '198.51.100.1', proto: 6, sport: 443, dport: 40312 },
    status: IPS.CONFIRMED | IPS.SRC_NAT,
    timeout: 120,
    tcpState: 1,
  };
  t.ok(isNatted(e));
  t.ok(isNatted({ ...e, status: IPS.CONFIRMED }), 'reply tuple not the inverse: NATed even without the bit');
  t.notOk(
    isNatted({
      ...e,
      status: IPS.CONFIRMED,
      reply: { src: '1.2.3.4', dst: '192.168.0.12', proto: 6, sport: 443, dport: 40312 },
    }),
  );
  t.equal(
    connectionLine(new Date('2024-05-01T10:00:00Z'), e, { hostname: 'm12', login: 'joe' }),
    '2024-05-01T10:00:00.000Z [NEW] tcp      6 120 SYN_SENT src=192.168.0.12 dst=1.2.3.4 sport=40312 dport=443 [UNREPLIED] src=1.2.3.4 dst=198.51.100.1 sport=443 dport=40312 host=m12 login=joe',
  );
  t.match(connectionLine(new Date(0), e, {}, { recovered: true }), / host=- login=- recovered=dump$/);
});

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
const port = fc.integer({ min: 1, max: 65535 });
const tuple = fc.record({ src: ipv4, dst: ipv4, proto: fc.constantFrom(6, 17), sport: port, dport: port });
const entry: fc.Arbitrary<CtEntry> = fc.record({
  kind: fc.constantFrom('new' as const, 'update' as const, 'destroy' as const),
  family: fc.constant(2),
  orig: tuple,
  reply: tuple,
  status: fc.nat(0xffff),
  id: fc.nat(),
  timeout: fc.nat(432000),
});

t.test('ctnetlink entries round-trip (property); random bytes only raise decode errors', async () => {
  fc.assert(
    fc.property(entry, (e) => {
      const enc = encodeCtEntry(e);
      const back = decodeCtMessage(decodeMessages(encodeMessage({ ...enc, seq: 0 }))[0]!);
      return isDeepStrictEqual(back, { ...e, orig: { ...e.orig }, reply: { ...e.reply } });
    }),
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 120 }), (b) => {
      try {
        decodeCtMessage({ type: 0x100, flags: 0x600, seq: 0, pid: 0, payload: Buffer.from(b) });
      } catch (e) {
        if (!(e instanceof NetlinkDecodeError)) throw e;
      }
    }),
  );
});

t.test('a real nflog packet decodes to prefix, interfaces and payload; LOG-style text', async (t) => {
  const [m] = decodeMessages(Buffer.from(NFLOG_PACKET, 'hex'));
  const p = decodeNflogPacket(m!);
  t.equal(p.group, 9);
  t.equal(p.family, 2);
  t.equal(p.hwProtocol, 0x0800);
  t.equal(p.hook, 3, 'output hook');
  t.equal(p.prefix, 'cap ');
  t.equal(p.outdev, 1, 'lo');
  t.equal(p.ifindex, undefined, 'no input interface on output');
  t.equal(p.payload.length, 84);
  const { text, info } = kernelLogText(p.prefix, undefined, 'lo', p.payload);
  t.equal(
    text,
    'cap IN= OUT=lo SRC=127.0.0.1 DST=127.0.0.1 LEN=84 TOS=0x00 PREC=0x00 TTL=64 ID=52915 DF PROTO=ICMP TYPE=8 CODE=0 ID=31824 SEQ=1',
  );
  t.same(info, { src: '127.0.0.1', dst: '127.0.0.1', proto: 1 });
});

t.test('nflog packets round-trip (property), with an LLDP-like netdev frame', async (t) => {
  const lldp: NflogPacket = {
    group: 7,
    family: 5,
    hwProtocol: 0x88cc,
    hook: 0,
    prefix: '',
    ifindex: 4,
    hwheader: Buffer.from('0180c200000e3e179a5598df88cc', 'hex'),
    payload: Buffer.from('020704', 'hex'),
  };
  const enc = encodeNflogPacket(lldp);
  t.same(decodeNflogPacket(decodeMessages(encodeMessage({ ...enc, seq: 0 }))[0]!), lldp);
  fc.assert(
    fc.property(
      fc.record({
        group: fc.nat(65535),
        family: fc.constantFrom(2, 5, 10),
        hwProtocol: fc.nat(65535),
        hook: fc.nat(4),
        prefix: fc.string({ maxLength: 60 }).filter((s) => !s.includes('\0')),
        ifindex: fc.nat(),
        payload: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
      }),
      (p) =>
        isDeepStrictEqual(
          decodeNflogPacket(decodeMessages(encodeMessage({ ...encodeNflogPacket(p), seq: 0 }))[0]!),
          { ...p },
        ),
    ),
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
      kernelLogText('x ', 'a', 'b', Buffer.from(b));
    }),
    { numRuns: 300 },
  );
});
