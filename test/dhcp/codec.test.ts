import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import t from 'tap';
import {
  BOOTREPLY,
  BOOTREQUEST,
  type EncodeInput,
  MIN_REPLY_SIZE,
  OPT,
  decodePacket,
  encodePacket,
  macOf,
} from '../../src/dhcp/codec.js';
import { buildIpUdp, parseIpUdp } from '../../src/dhcp/ip-udp.js';
import { formatIp, ip } from '../../src/dhcp/ipv4.js';
import { IPXE, decapsulate, encapsulate, readRequest, textOpt, u8Opt } from '../../src/dhcp/options.js';

const goldenDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'golden');
function golden(name: string): Buffer {
  return Buffer.from(fs.readFileSync(path.join(goldenDir, `${name}.hex`), 'utf8').replace(/\s+/g, ''), 'hex');
}
function decodeOk(buf: Uint8Array) {
  const r = decodePacket(buf);
  if (!r.ok) throw new Error(`decode failed: ${r.reason} ${r.detail}`);
  return r.packet;
}
function requestOk(buf: Uint8Array) {
  const r = readRequest(decodeOk(buf));
  if (!r.ok) throw new Error(`readRequest failed: ${r.detail}`);
  return r.request;
}

t.test('golden: iPXE DISCOVER (Debian ipxe-qemu ROM) carries user class iPXE, 93, 94, 97, 175', async (t) => {
  const q = requestOk(golden('ipxe-1-discover'));
  t.equal(q.type, 'DISCOVER');
  t.equal(q.mac, '52:54:00:12:34:56');
  t.same(q.userClasses, ['iPXE'], 'bare "iPXE" user class (not RFC 3004 framed) is recognised');
  t.same(q.clientArch, [0], 'BIOS');
  t.equal(q.vendorClass, 'PXEClient:Arch:00000:UNDI:002001');
  t.equal(q.maxMessageSize, 1472);
  t.ok(q.paramRequest.includes(175), 'asks for option 175');
  t.ok(q.ipxe && q.ipxe.size > 0, 'sends its feature flags in 175');
  t.equal(q.clientId, '01525400123456');
  t.equal(q.packet.options.get(OPT.CLIENT_UUID)?.length, 17);
  t.same(Array.from(q.packet.options.get(OPT.CLIENT_NDI) ?? []), [1, 2, 1]);
});

t.test('golden: iPXE REQUEST in SELECTING names server and address', async (t) => {
  const q = requestOk(golden('ipxe-3-request'));
  t.equal(q.type, 'REQUEST');
  t.equal(formatIp(q.serverId!), '192.168.250.254');
  t.equal(formatIp(q.requestedIp!), '192.168.250.159');
  t.equal(q.packet.ciaddr, 0);
});

t.test('golden: dhclient DISCOVER, REQUEST, RELEASE and udhcpc PXE-like DISCOVER', async (t) => {
  const d = requestOk(golden('dhclient-1-discover'));
  t.equal(d.type, 'DISCOVER');
  t.equal(d.mac, '02:00:00:00:aa:01');
  t.equal(d.packet.op, BOOTREQUEST);
  t.equal(d.hostname, 'vm', 'dhclient sends the host name');
  const r = requestOk(golden('dhclient-3-request'));
  t.equal(formatIp(r.requestedIp!), '192.168.250.94');
  const rel = requestOk(golden('dhclient-5-release'));
  t.equal(rel.type, 'RELEASE');
  t.equal(formatIp(rel.packet.ciaddr), '192.168.250.94');
  const u = requestOk(golden('udhcpc-pxe-1-discover'));
  t.equal(u.vendorClass, 'PXEClient:Arch:00000:UNDI:002001');
  t.same(u.clientArch, [0]);
  t.ok(u.paramRequest.includes(175) && u.paramRequest.includes(67));
});

t.test('golden: dhcping INFORM and perfdhcp relayed DISCOVER', async (t) => {
  const i = requestOk(golden('dhcping-4-inform'));
  t.equal(i.type, 'INFORM');
  t.equal(formatIp(i.packet.ciaddr), '192.168.250.94');
  const p = requestOk(golden('perfdhcp-relay-1-discover'));
  t.equal(formatIp(p.packet.giaddr), '192.168.250.10', 'perfdhcp talks as a relay agent');
  t.equal(p.mac, '00:0c:01:02:03:04');
});

t.test('golden: server replies (dnsmasq) decode, including 175/176 and the boot file option', async (t) => {
  const o = decodeOk(golden('dhclient-2-offer'));
  t.equal(o.op, BOOTREPLY);
  t.equal(formatIp(o.yiaddr), '192.168.250.94');
  t.equal(o.file, 'prologin.kpxe');
  t.equal(o.options.get(OPT.MESSAGE_TYPE)?.[0], 2);
  const a = decodeOk(golden('ipxe-4-ack'));
  const sub = decapsulate(a.options.get(OPT.IPXE_ENCAP)!);
  t.same(Array.from(sub?.get(IPXE.NO_PXEDHCP) ?? []), [1]);
  t.equal(
    Buffer.from(a.options.get(OPT.BOOTFILE_NAME)!).toString('latin1').replace(/\0$/, ''),
    'prologin.kpxe',
  );
});

t.test('every golden packet re-encodes to a packet that decodes to the same fields', async (t) => {
  for (const f of fs.readdirSync(goldenDir).filter((n) => n.endsWith('.hex'))) {
    const p = decodeOk(golden(f.replace(/\.hex$/, '')));
    const enc = encodePacket({ ...p, options: [...p.options.entries()] }, { maxSize: 1472 });
    const back = decodeOk(enc.bytes);
    t.same(
      {
        ...back,
        chaddr: Buffer.from(back.chaddr),
        options: [...back.options.entries()].map(([c, v]) => [c, Buffer.from(v)]),
      },
      {
        ...p,
        chaddr: Buffer.from(p.chaddr),
        options: [...p.options.entries()].map(([c, v]) => [c, Buffer.from(v)]),
      },
      f,
    );
  }
});

const base: EncodeInput = {
  op: BOOTREPLY,
  htype: 1,
  hlen: 6,
  hops: 0,
  xid: 0xdeadbeef,
  secs: 0,
  flags: 0x8000,
  ciaddr: 0,
  yiaddr: ip('192.168.0.1'),
  siaddr: ip('192.168.1.254'),
  giaddr: 0,
  chaddr: Buffer.from('aabbccddee01' + '00'.repeat(10), 'hex'),
  sname: '',
  file: 'prologin.kpxe',
  options: [[OPT.MESSAGE_TYPE, u8Opt(2)]],
};

t.test('replies are padded to the 300-byte BOOTP minimum (RFC 1542 §3.4)', async (t) => {
  const e = encodePacket(base);
  t.equal(e.bytes.length, MIN_REPLY_SIZE);
  const p = decodeOk(e.bytes);
  t.equal(p.file, 'prologin.kpxe');
  t.equal(macOf(p), 'aa:bb:cc:dd:ee:01');
  t.equal(p.flags, 0x8000);
});

t.test('options longer than 255 bytes are split and concatenated again (RFC 3396)', async (t) => {
  const long = new Uint8Array(600).map((_, i) => i & 255);
  const e = encodePacket(
    {
      ...base,
      options: [
        [OPT.MESSAGE_TYPE, u8Opt(2)],
        [224, long],
      ],
    },
    { maxSize: 1472 },
  );
  t.same(Buffer.from(decodeOk(e.bytes).options.get(224)!), Buffer.from(long));
});

t.test(
  'option overload: what does not fit the options field goes to file, then sname (RFC 2131 §4.1)',
  async (t) => {
    const opts: EncodeInput['options'] = [[OPT.MESSAGE_TYPE, u8Opt(2)]];
    for (let c = 200; c < 206; c++) opts.push([c, new Uint8Array(60).fill(c)]);
    // 6 × 62 + 3 = 375 bytes of options; 548 - 240 = 308 bytes of room: needs file (and sname).
    const e = encodePacket({ ...base, file: '', options: opts });
    t.ok(e.overload & 1, 'file field used');
    t.same(e.dropped, []);
    t.ok(e.bytes.length <= 548, 'stays within the default maximum');
    const p = decodeOk(e.bytes);
    for (let c = 200; c < 206; c++)
      t.same(Buffer.from(p.options.get(c)!), Buffer.alloc(60, c), `option ${c}`);
    t.equal(p.file, '', 'overloaded file field is not a file name');
    t.notOk(p.options.has(OPT.OVERLOAD), 'option 52 is consumed by the decoder');
  },
);

t.test(
  'overload is not used when the boot file occupies the file field; leftovers are reported',
  async (t) => {
    const opts: EncodeInput['options'] = [[OPT.MESSAGE_TYPE, u8Opt(2)]];
    for (let c = 200; c < 206; c++) opts.push([c, new Uint8Array(60).fill(c)]);
    const e = encodePacket({ ...base, sname: 'x', options: opts });
    t.equal(e.overload, 0);
    t.ok(e.dropped.length > 0);
    t.equal(decodeOk(e.bytes).file, 'prologin.kpxe');
  },
);

t.test('decoder reads options from file and sname when option 52 says so', async (t) => {
  const buf = Buffer.alloc(300);
  buf[0] = 1;
  buf[1] = 1;
  buf[2] = 6;
  buf.writeUInt32BE(0x63825363, 236);
  Buffer.from([52, 1, 3, 53, 1, 1, 255]).copy(buf, 240);
  Buffer.from([12, 3, 0x61, 0x62, 0x63, 255]).copy(buf, 108); // file: hostname "abc"
  Buffer.from([60, 2, 0x78, 0x79, 255]).copy(buf, 44); // sname: vendor class "xy"
  const q = requestOk(buf);
  t.equal(q.type, 'DISCOVER');
  t.equal(q.hostname, 'abc');
  t.equal(q.vendorClass, 'xy');
});

t.test('typed decode errors instead of exceptions', async (t) => {
  t.match(decodePacket(Buffer.alloc(10)), { ok: false, reason: 'too-short' });
  const b = golden('dhclient-1-discover');
  const badOp = Buffer.from(b);
  badOp[0] = 7;
  t.match(decodePacket(badOp), { ok: false, reason: 'bad-op' });
  const badHlen = Buffer.from(b);
  badHlen[2] = 17;
  t.match(decodePacket(badHlen), { ok: false, reason: 'bad-hlen' });
  const overrun = Buffer.from(b.subarray(0, 244));
  overrun[240] = 55;
  overrun[241] = 200;
  t.match(decodePacket(overrun), { ok: false, reason: 'option-overrun' });
  const withOverload = Buffer.from(b);
  Buffer.from([52, 1, 9, 255]).copy(withOverload, 240);
  t.match(decodePacket(withOverload), { ok: false, reason: 'bad-overload' });
  const badType = Buffer.from(b);
  Buffer.from([53, 1, 42, 255]).copy(badType, 240);
  t.match(readRequest(decodeOk(badType)), { ok: false, reason: 'bad-option' });
  const badReq = Buffer.from(b);
  Buffer.from([53, 1, 3, 50, 3, 1, 2, 3, 255]).copy(badReq, 240);
  t.match(readRequest(decodeOk(badReq)), { ok: false, reason: 'bad-option', detail: /option 50/ });
  const bootp = Buffer.from(b.subarray(0, 236));
  t.match(decodePacket(bootp), { ok: true, packet: { dhcp: false } });
});

t.test('property: decodePacket and readRequest never throw on random bytes', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 700 }), (bytes) => {
      const r = decodePacket(bytes);
      if (r.ok) readRequest(r.packet);
    }),
    { numRuns: 3000 },
  );
  // Random option areas behind a valid header exercise the TLV reader rather than the length check.
  const header = golden('dhclient-1-discover').subarray(0, 240);
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 400 }), (opts) => {
      const r = decodePacket(Buffer.concat([header, opts]));
      if (r.ok) readRequest(r.packet);
    }),
    { numRuns: 3000 },
  );
  t.pass('no exception');
});

t.test('property: encode -> decode round trip of arbitrary option sets', async (t) => {
  const option = fc.tuple(
    fc.integer({ min: 1, max: 254 }).filter((c) => c !== OPT.OVERLOAD),
    fc.uint8Array({ minLength: 0, maxLength: 300 }),
  );
  fc.assert(
    fc.property(
      fc.uniqueArray(option, { selector: (o) => o[0], maxLength: 8 }),
      fc.boolean(),
      (opts, emptyFile) => {
        const input: EncodeInput = { ...base, file: emptyFile ? '' : 'f', options: opts };
        const e = encodePacket(input, { maxSize: 1472 });
        const p = decodeOk(e.bytes);
        for (const [code, data] of opts) {
          if (e.dropped.includes(code)) continue;
          if (!Buffer.from(p.options.get(code) ?? []).equals(Buffer.from(data))) return false;
        }
        return e.bytes.length >= MIN_REPLY_SIZE && e.bytes.length <= 1472;
      },
    ),
    { numRuns: 500 },
  );
  t.pass('round trips');
});

t.test('encapsulated option 175: sub-option 81 is iPXE scriptlet, 176 no-pxedhcp', async (t) => {
  const v = encapsulate([
    [IPXE.NO_PXEDHCP, u8Opt(1)],
    [IPXE.SCRIPTLET, textOpt('alien')],
  ]);
  t.same(Buffer.from(v).toString('hex'), 'b00101' + '5105' + Buffer.from('alien').toString('hex'));
  const back = decapsulate(v)!;
  t.equal(Buffer.from(back.get(81)!).toString(), 'alien');
  t.equal(decapsulate(Uint8Array.of(81, 9, 1)), undefined, 'overrun is detected');
  fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), (b) => void decapsulate(b)));
});

t.test('IPv4/UDP framing for the raw sockets: checksums verify, parse inverts build', async (t) => {
  const payload = encodePacket(base).bytes;
  const d = buildIpUdp(ip('192.168.1.254'), ip('255.255.255.255'), 67, 68, payload);
  const parsed = parseIpUdp(d);
  t.ok(parsed.ok);
  if (!parsed.ok) return;
  t.equal(formatIp(parsed.datagram.src), '192.168.1.254');
  t.equal(parsed.datagram.dstPort, 68);
  t.ok(parsed.datagram.payload.equals(payload));
  const sum = (buf: Buffer, from: number, to: number, acc = 0) => {
    let s = acc;
    for (let i = from; i < to; i += 2) s += (buf[i]! << 8) | (i + 1 < to ? buf[i + 1]! : 0);
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    return s;
  };
  t.equal(sum(d, 0, 20), 0xffff, 'IP header checksum verifies');
  const pseudo = sum(d, 12, 20, 17 + (d.length - 20));
  t.equal(sum(d, 20, d.length, pseudo), 0xffff, 'UDP checksum verifies');
  // The encoder sums eight bytes per turn: any length and content must still verify.
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 1400 }), fc.integer({ min: 0, max: 0xffffffff }), (body, src) => {
      const f = buildIpUdp(src, ip('255.255.255.255'), 67, 68, body);
      const ps = sum(f, 12, 20, 17 + (f.length - 20));
      return sum(f, 0, 20) === 0xffff && sum(f, 20, f.length, ps) === 0xffff;
    }),
  );
  t.match(parseIpUdp(d.subarray(0, 10)), { ok: false, reason: 'not-ipv4' });
  const frag = Buffer.from(d);
  frag.writeUInt16BE(0x2000, 6);
  t.match(parseIpUdp(frag), { ok: false, reason: 'fragment' });
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => void parseIpUdp(Buffer.from(b))));
});
