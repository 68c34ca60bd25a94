import fc from 'fast-check';
import t from 'tap';
import {
  CHASSIS_SUBTYPE,
  capabilityNames,
  decodeLldpdu,
  encodeLldpdu,
  type LldpduInput,
  OUI_IEEE_8021,
  PORT_SUBTYPE,
} from '../../src/lldp/codec.js';

/**
 * One frame sent by lldpd 1.0.16 (`lldpd -I ghnbvb -S "Gatehouse test switch" -M 1`), captured
 * with tcpdump: Ethernet header (to 01:80:c2:00:00:0e, type 0x88cc) then the LLDPDU.
 */
const LLDPD_FRAME = Buffer.from(
  '0180c200000e02aabbccdd0188cc02070402aabbccdd0104070302aabbccdd01060200780a02766d0c1547617465686f7573652074657374207377697463680e04009c008010181102fe80000000000000f844a1fffeac830e020000000200080667686e627662fe0900120f030100000000fe0900120f010080000036fe070012bb01003f01fe130012bb07362e31382e34342d66632d763635370000',
  'hex',
);

t.test('golden: an lldpd frame', async (t) => {
  const r = decodeLldpdu(LLDPD_FRAME.subarray(14));
  if (!r.ok) throw new Error(r.error);
  const du = r.value;
  t.same(
    { subtype: du.chassisId.subtype, value: du.chassisId.value },
    { subtype: CHASSIS_SUBTYPE.MAC_ADDRESS, value: '02:aa:bb:cc:dd:01' },
  );
  t.same(
    { subtype: du.portId.subtype, value: du.portId.value },
    { subtype: PORT_SUBTYPE.MAC_ADDRESS, value: '02:aa:bb:cc:dd:01' },
  );
  t.equal(du.ttl, 120);
  t.equal(du.systemName, 'vm');
  t.equal(du.systemDescription, 'Gatehouse test switch');
  t.equal(du.portDescription, 'ghnbvb');
  t.same(du.capabilities, { supported: 0x9c, enabled: 0x80 });
  t.same(capabilityNames(0x9c), ['bridge', 'wlan-ap', 'router', 'station']);
  t.same(capabilityNames(0x80), ['station']);
  t.equal(du.managementAddresses.length, 1);
  t.equal(du.managementAddresses[0]!.address, 'fe80::f844:a1ff:feac:830e');
  t.equal(du.managementAddresses[0]!.interfaceSubtype, 2);
  t.equal(du.managementAddresses[0]!.interfaceNumber, 2);
  t.same(
    du.orgSpecific.map((o) => `${o.oui}/${o.subtype}`),
    ['00:12:0f/3', '00:12:0f/1', '00:12:bb/1', '00:12:bb/7'],
  );
  t.equal(du.portVlanId, undefined);
});

const base: LldpduInput = {
  chassisId: { subtype: CHASSIS_SUBTYPE.MAC_ADDRESS, raw: Buffer.from('68b5999f4540', 'hex') },
  portId: { subtype: PORT_SUBTYPE.INTERFACE_NAME, raw: Buffer.from('ge-0/0/12') },
  ttl: 121,
};

t.test('802.1 port VLAN, VLAN names, network-address chassis, locally assigned port', async (t) => {
  const frame = encodeLldpdu({
    ...base,
    chassisId: { subtype: CHASSIS_SUBTYPE.NETWORK_ADDRESS, raw: Buffer.from([1, 192, 168, 1, 2]) },
    portVlanId: 42,
    orgSpecific: [
      {
        oui: OUI_IEEE_8021,
        subtype: 3,
        info: Buffer.concat([Buffer.from([0, 42, 5]), Buffer.from('users')]),
      },
    ],
  });
  const r = decodeLldpdu(frame);
  if (!r.ok) throw new Error(r.error);
  t.equal(r.value.chassisId.value, '192.168.1.2');
  t.equal(r.value.portId.value, 'ge-0/0/12');
  t.equal(r.value.portVlanId, 42);
  t.same(r.value.vlanNames, [{ vid: 42, name: 'users' }]);
  const local = decodeLldpdu(
    encodeLldpdu({ ...base, portId: { subtype: PORT_SUBTYPE.LOCAL, raw: Buffer.from([0, 1, 0xff]) } }),
  );
  t.equal(local.ok && local.value.portId.value, '00:01:ff', 'binary IDs print as hex');
});

t.test('malformed LLDPDUs are rejected with a reason', async (t) => {
  const good = encodeLldpdu(base);
  const cases: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['one byte', Buffer.from([2])],
    ['only End', Buffer.from([0, 0])],
    ['length overruns', Buffer.from([0x02, 0xff, 4, 1, 2])],
    ['port before chassis', encodeLldpdu({ ...base }).subarray(9)],
    ['chassis id of 1 byte', Buffer.from([0x02, 0x01, 4])],
    ['End with length', Buffer.concat([good.subarray(0, good.length - 2), Buffer.from([0x00, 0x01, 0x00])])],
    ['no TTL', Buffer.concat([good.subarray(0, 20), Buffer.from([0, 0])])],
    [
      'capabilities of 3 bytes',
      Buffer.concat([good.subarray(0, good.length - 2), Buffer.from([0x0e, 0x03, 0, 0, 0, 0, 0])]),
    ],
    [
      'truncated org TLV',
      Buffer.concat([good.subarray(0, good.length - 2), Buffer.from([0xfe, 0x02, 0, 0x80, 0, 0])]),
    ],
    [
      'duplicate chassis',
      Buffer.concat([good.subarray(0, good.length - 2), good.subarray(0, 9), Buffer.from([0, 0])]),
    ],
  ];
  for (const [what, b] of cases) {
    const r = decodeLldpdu(b);
    t.equal(r.ok, false, what);
    if (!r.ok) t.type(r.error, 'string');
  }
  t.ok(decodeLldpdu(Buffer.concat([good, Buffer.alloc(30)])).ok, 'Ethernet padding after End is ignored');
  t.ok(
    decodeLldpdu(good.subarray(0, good.length - 2)).ok,
    'missing End tolerated when the TLVs fill the frame',
  );
});

const idArb = fc.record({
  subtype: fc.integer({ min: 0, max: 255 }),
  raw: fc.uint8Array({ minLength: 1, maxLength: 255 }).map((a) => Buffer.from(a)),
});
const textArb = fc
  .string({ maxLength: 100 })
  .filter((s) => Buffer.byteLength(s) <= 511 && !/[\x00-\x1f\x7f]/.test(s));
const inputArb: fc.Arbitrary<LldpduInput> = fc.record(
  {
    chassisId: idArb,
    portId: idArb,
    ttl: fc.integer({ min: 0, max: 65535 }),
    portDescription: textArb,
    systemName: textArb,
    systemDescription: textArb,
    capabilities: fc.record({
      supported: fc.integer({ min: 0, max: 0xffff }),
      enabled: fc.integer({ min: 0, max: 0xffff }),
    }),
    portVlanId: fc.integer({ min: 0, max: 4094 }),
    managementAddresses: fc.array(
      fc.record({
        family: fc.constantFrom(1, 2, 6),
        raw: fc.uint8Array({ minLength: 1, maxLength: 31 }).map((a) => Buffer.from(a)),
        interfaceSubtype: fc.integer({ min: 1, max: 3 }),
        interfaceNumber: fc.nat(),
        oid: fc.uint8Array({ maxLength: 20 }).map((a) => Buffer.from(a)),
      }),
      { maxLength: 3 },
    ),
  },
  { requiredKeys: ['chassisId', 'portId', 'ttl'] },
);

t.test('property: decode(encode(x)) gives x back', async () => {
  fc.assert(
    fc.property(inputArb, (x) => {
      const r = decodeLldpdu(encodeLldpdu(x));
      if (!r.ok) throw new Error(r.error);
      const d = r.value;
      const eq = (a: unknown, b: unknown, what: string) => {
        if (JSON.stringify(a) !== JSON.stringify(b))
          throw new Error(`${what}: ${JSON.stringify(a)} != ${JSON.stringify(b)}`);
      };
      eq(d.chassisId.subtype, x.chassisId.subtype, 'chassis subtype');
      eq(d.chassisId.raw.toString('hex'), x.chassisId.raw.toString('hex'), 'chassis');
      eq(d.portId.raw.toString('hex'), x.portId.raw.toString('hex'), 'port');
      eq(d.ttl, x.ttl, 'ttl');
      eq(d.portDescription, x.portDescription, 'port description');
      eq(d.systemName, x.systemName, 'system name');
      eq(d.systemDescription, x.systemDescription, 'system description');
      eq(d.capabilities, x.capabilities, 'capabilities');
      eq(d.portVlanId, x.portVlanId, 'port vlan');
      eq(
        d.managementAddresses.map((m) => [
          m.family,
          m.raw.toString('hex'),
          m.interfaceSubtype,
          m.interfaceNumber,
          m.oid.toString('hex'),
        ]),
        (x.managementAddresses ?? []).map((m) => [
          m.family,
          m.raw.toString('hex'),
          m.interfaceSubtype,
          m.interfaceNumber,
          m.oid!.toString('hex'),
        ]),
        'management addresses',
      );
    }),
  );
});

t.test('property: the decoder never throws on garbage or mutated frames', async () => {
  const good = encodeLldpdu({ ...base, systemName: 'sw', portVlanId: 3 });
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (a) => {
      decodeLldpdu(a);
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      fc.nat(good.length),
      (muts, cut) => {
        const b = Buffer.from(good);
        for (const [i, v] of muts) b[i] = v;
        const r = decodeLldpdu(b.subarray(0, cut));
        if (r.ok && (r.value.chassisId === undefined || r.value.ttl === undefined))
          throw new Error('ok without mandatory TLVs');
      },
    ),
    { numRuns: 2000 },
  );
});
