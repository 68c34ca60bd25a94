/**
 * LLDPDU codec (IEEE 802.1AB-2016 §8, organisationally specific TLVs of Annex D/E). Bytes ⇄
 * typed values, no I/O and no clock. `decodeLldpdu` never throws: frames come from a LAN of
 * contestants and a lying length field is an answer ({ ok: false }), not an exception.
 */

export const LLDP_ETHERTYPE = 0x88cc;

export const TLV = {
  END: 0,
  CHASSIS_ID: 1,
  PORT_ID: 2,
  TTL: 3,
  PORT_DESCRIPTION: 4,
  SYSTEM_NAME: 5,
  SYSTEM_DESCRIPTION: 6,
  SYSTEM_CAPABILITIES: 7,
  MANAGEMENT_ADDRESS: 8,
  ORG_SPECIFIC: 127,
} as const;

/** §8.5.2.2 chassis ID subtypes. */
export const CHASSIS_SUBTYPE = {
  CHASSIS_COMPONENT: 1,
  INTERFACE_ALIAS: 2,
  PORT_COMPONENT: 3,
  MAC_ADDRESS: 4,
  NETWORK_ADDRESS: 5,
  INTERFACE_NAME: 6,
  LOCAL: 7,
} as const;

/** §8.5.3.2 port ID subtypes. */
export const PORT_SUBTYPE = {
  INTERFACE_ALIAS: 1,
  PORT_COMPONENT: 2,
  MAC_ADDRESS: 3,
  NETWORK_ADDRESS: 4,
  INTERFACE_NAME: 5,
  AGENT_CIRCUIT_ID: 6,
  LOCAL: 7,
} as const;

/** §8.5.8 system capability bits, in bit order. */
export const CAPABILITY_NAMES = [
  'other',
  'repeater',
  'bridge',
  'wlan-ap',
  'router',
  'telephone',
  'docsis',
  'station',
  'cvlan',
  'svlan',
  'tpmr',
] as const;

export const OUI_IEEE_8021 = '00:80:c2';
export const OUI_IEEE_8023 = '00:12:0f';

/** An ID (chassis or port): its subtype, the raw bytes, and a printable form. */
export interface LldpId {
  subtype: number;
  raw: Buffer;
  /** MAC → `aa:bb:…`, network address → dotted/colon IP, printable text as is, else hex. */
  value: string;
}

export interface ManagementAddress {
  /** IANA address family: 1 IPv4, 2 IPv6, 6 802 (MAC)… */
  family: number;
  raw: Buffer;
  address: string;
  /** 1 unknown, 2 ifIndex, 3 system port number. */
  interfaceSubtype: number;
  interfaceNumber: number;
  oid: Buffer;
}

export interface OrgSpecificTlv {
  /** `00:80:c2`… lowercase. */
  oui: string;
  subtype: number;
  info: Buffer;
}

export interface Lldpdu {
  chassisId: LldpId;
  portId: LldpId;
  /** Seconds; 0 is a shutdown LLDPDU (§9.2.7.7.4): forget the neighbour at once. */
  ttl: number;
  portDescription?: string;
  systemName?: string;
  systemDescription?: string;
  capabilities?: { supported: number; enabled: number };
  managementAddresses: ManagementAddress[];
  /** IEEE 802.1 Port VLAN ID (OUI 00:80:c2 subtype 1); 0 = none. */
  portVlanId?: number;
  /** IEEE 802.1 VLAN names (OUI 00:80:c2 subtype 3). */
  vlanNames: Array<{ vid: number; name: string }>;
  orgSpecific: OrgSpecificTlv[];
  /** TLVs of reserved types (9–126), kept for completeness. */
  unknown: Array<{ type: number; value: Buffer }>;
}

export type LldpDecodeResult = { ok: true; value: Lldpdu } | { ok: false; error: string };

export function formatMac(b: Buffer): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

function formatHex(b: Buffer): string {
  return formatMac(b);
}

function formatIpv6(b: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  // Compress the longest run of zero groups (RFC 5952 §4.2).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** An address with its IANA family octet first (§8.5.2.3, §8.5.9.4). */
function formatFamilyAddress(family: number, addr: Buffer): string {
  if (family === 1 && addr.length === 4) return [...addr].join('.');
  if (family === 2 && addr.length === 16) return formatIpv6(addr);
  if (family === 6 && addr.length === 6) return formatMac(addr);
  return formatHex(addr);
}

/** UTF-8 text when the bytes are valid, printable UTF-8; otherwise undefined. */
function printable(b: Buffer): string | undefined {
  const s = b.toString('utf8');
  if (s.includes('\ufffd') || /[\x00-\x1f\x7f]/.test(s)) return undefined;
  return s;
}

/** Free text TLVs (names, descriptions): control characters become spaces, invalid UTF-8 is replaced. */
function text(b: Buffer): string {
  return b.toString('utf8').replace(/[\x00-\x1f\x7f]/g, ' ');
}

function formatId(subtype: number, raw: Buffer, macSubtype: number, addrSubtype: number): string {
  if (subtype === macSubtype && raw.length === 6) return formatMac(raw);
  if (subtype === addrSubtype && raw.length >= 1) return formatFamilyAddress(raw[0]!, raw.subarray(1));
  return printable(raw) ?? formatHex(raw);
}

function decodeOrg(info: Buffer, out: Lldpdu): string | undefined {
  if (info.length < 4) return 'organizationally specific TLV shorter than OUI + subtype';
  const oui = formatMac(info.subarray(0, 3));
  const subtype = info[3]!;
  const body = Buffer.from(info.subarray(4));
  out.orgSpecific.push({ oui, subtype, info: body });
  if (oui === OUI_IEEE_8021 && subtype === 1 && body.length >= 2) out.portVlanId = body.readUInt16BE(0);
  if (oui === OUI_IEEE_8021 && subtype === 3 && body.length >= 3) {
    const vid = body.readUInt16BE(0);
    const len = body[2]!;
    if (3 + len <= body.length) out.vlanNames.push({ vid, name: text(body.subarray(3, 3 + len)) });
  }
  return undefined;
}

function decodeManagement(v: Buffer): ManagementAddress | string {
  if (v.length < 9) return 'management address TLV too short';
  const strLen = v[0]!;
  if (strLen < 2 || strLen > 32 || 1 + strLen + 5 + 1 > v.length)
    return 'management address length out of range';
  const family = v[1]!;
  const raw = Buffer.from(v.subarray(2, 1 + strLen));
  let o = 1 + strLen;
  const interfaceSubtype = v[o]!;
  const interfaceNumber = v.readUInt32BE(o + 1);
  o += 5;
  const oidLen = v[o]!;
  if (o + 1 + oidLen > v.length) return 'management address OID overruns the TLV';
  return {
    family,
    raw,
    address: formatFamilyAddress(family, raw),
    interfaceSubtype,
    interfaceNumber,
    oid: Buffer.from(v.subarray(o + 1, o + 1 + oidLen)),
  };
}

/**
 * Decodes an LLDPDU (the Ethernet payload after the 0x88cc ethertype). The three mandatory
 * TLVs must come first and in order (§9.2.7.7.1); the End TLV ends the LLDPDU and anything
 * after it (Ethernet padding) is ignored; a missing End TLV is tolerated when the TLVs fill
 * the frame exactly.
 */
export function decodeLldpdu(buf: Uint8Array): LldpDecodeResult {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  let chassisId: LldpId | undefined;
  let portId: LldpId | undefined;
  let ttl: number | undefined;
  const out: Omit<Lldpdu, 'chassisId' | 'portId' | 'ttl'> = {
    managementAddresses: [],
    vlanNames: [],
    orgSpecific: [],
    unknown: [],
  };
  let index = 0;
  let o = 0;
  while (o < b.length) {
    if (o + 2 > b.length) return { ok: false, error: `truncated TLV header at byte ${o}` };
    const header = b.readUInt16BE(o);
    const type = header >> 9;
    const len = header & 0x1ff;
    o += 2;
    if (o + len > b.length)
      return { ok: false, error: `TLV type ${type} length ${len} overruns the frame at byte ${o - 2}` };
    const v = b.subarray(o, o + len);
    o += len;
    if (type === TLV.END) {
      if (len !== 0) return { ok: false, error: 'End TLV with a non-zero length' };
      break;
    }
    const expected = [TLV.CHASSIS_ID, TLV.PORT_ID, TLV.TTL][index];
    if (expected !== undefined && type !== expected) {
      return {
        ok: false,
        error: `TLV ${index + 1} is type ${type}, expected ${expected} (chassis ID, port ID, TTL come first)`,
      };
    }
    index++;
    switch (type) {
      case TLV.CHASSIS_ID:
      case TLV.PORT_ID: {
        if (expected === undefined)
          return { ok: false, error: `duplicate ${type === TLV.CHASSIS_ID ? 'chassis' : 'port'} ID TLV` };
        if (len < 2 || len > 256)
          return {
            ok: false,
            error: `${type === TLV.CHASSIS_ID ? 'chassis' : 'port'} ID length ${len} outside 2..256`,
          };
        const subtype = v[0]!;
        const raw = Buffer.from(v.subarray(1));
        if (type === TLV.CHASSIS_ID) {
          chassisId = {
            subtype,
            raw,
            value: formatId(subtype, raw, CHASSIS_SUBTYPE.MAC_ADDRESS, CHASSIS_SUBTYPE.NETWORK_ADDRESS),
          };
        } else {
          portId = {
            subtype,
            raw,
            value: formatId(subtype, raw, PORT_SUBTYPE.MAC_ADDRESS, PORT_SUBTYPE.NETWORK_ADDRESS),
          };
        }
        break;
      }
      case TLV.TTL:
        if (expected === undefined) return { ok: false, error: 'duplicate TTL TLV' };
        if (len < 2) return { ok: false, error: 'TTL TLV shorter than 2 bytes' };
        ttl = v.readUInt16BE(0);
        break;
      case TLV.PORT_DESCRIPTION:
        out.portDescription = text(v);
        break;
      case TLV.SYSTEM_NAME:
        out.systemName = text(v);
        break;
      case TLV.SYSTEM_DESCRIPTION:
        out.systemDescription = text(v);
        break;
      case TLV.SYSTEM_CAPABILITIES:
        if (len !== 4) return { ok: false, error: 'system capabilities TLV is not 4 bytes' };
        out.capabilities = { supported: v.readUInt16BE(0), enabled: v.readUInt16BE(2) };
        break;
      case TLV.MANAGEMENT_ADDRESS: {
        const m = decodeManagement(v);
        if (typeof m === 'string') return { ok: false, error: m };
        out.managementAddresses.push(m);
        break;
      }
      case TLV.ORG_SPECIFIC: {
        const err = decodeOrg(v, out as Lldpdu);
        if (err) return { ok: false, error: err };
        break;
      }
      default:
        out.unknown.push({ type, value: Buffer.from(v) });
    }
  }
  if (!chassisId || !portId || ttl === undefined)
    return { ok: false, error: 'LLDPDU lacks a chassis ID, port ID or TTL TLV' };
  return { ok: true, value: { chassisId, portId, ttl, ...out } };
}

export function capabilityNames(bits: number): string[] {
  return CAPABILITY_NAMES.filter((_, i) => (bits >> i) & 1);
}

/** What an encoder needs; defaults make a minimal valid LLDPDU. */
export interface LldpduInput {
  chassisId: { subtype: number; raw: Buffer };
  portId: { subtype: number; raw: Buffer };
  ttl: number;
  portDescription?: string;
  systemName?: string;
  systemDescription?: string;
  capabilities?: { supported: number; enabled: number };
  managementAddresses?: Array<{
    family: number;
    raw: Buffer;
    interfaceSubtype: number;
    interfaceNumber: number;
    oid?: Buffer;
  }>;
  portVlanId?: number;
  orgSpecific?: Array<{ oui: string; subtype: number; info: Buffer }>;
  unknown?: Array<{ type: number; value: Buffer }>;
}

function tlv(type: number, value: Buffer): Buffer {
  if (value.length > 511) throw new RangeError(`TLV type ${type} value of ${value.length} bytes exceeds 511`);
  const h = Buffer.alloc(2);
  h.writeUInt16BE((type << 9) | value.length);
  return Buffer.concat([h, value]);
}

function ouiBytes(oui: string): Buffer {
  return Buffer.from(oui.split(':').map((x) => Number.parseInt(x, 16)));
}

/** Encodes an LLDPDU (TLV order: mandatory, optional, org-specific, End). For tests and fakes. */
export function encodeLldpdu(p: LldpduInput): Buffer {
  const parts: Buffer[] = [
    tlv(TLV.CHASSIS_ID, Buffer.concat([Buffer.from([p.chassisId.subtype]), p.chassisId.raw])),
    tlv(TLV.PORT_ID, Buffer.concat([Buffer.from([p.portId.subtype]), p.portId.raw])),
    tlv(TLV.TTL, Buffer.from([(p.ttl >> 8) & 0xff, p.ttl & 0xff])),
  ];
  if (p.portDescription !== undefined)
    parts.push(tlv(TLV.PORT_DESCRIPTION, Buffer.from(p.portDescription, 'utf8')));
  if (p.systemName !== undefined) parts.push(tlv(TLV.SYSTEM_NAME, Buffer.from(p.systemName, 'utf8')));
  if (p.systemDescription !== undefined)
    parts.push(tlv(TLV.SYSTEM_DESCRIPTION, Buffer.from(p.systemDescription, 'utf8')));
  if (p.capabilities) {
    const c = Buffer.alloc(4);
    c.writeUInt16BE(p.capabilities.supported, 0);
    c.writeUInt16BE(p.capabilities.enabled, 2);
    parts.push(tlv(TLV.SYSTEM_CAPABILITIES, c));
  }
  for (const m of p.managementAddresses ?? []) {
    const oid = m.oid ?? Buffer.alloc(0);
    const iface = Buffer.alloc(5);
    iface.writeUInt8(m.interfaceSubtype, 0);
    iface.writeUInt32BE(m.interfaceNumber >>> 0, 1);
    parts.push(
      tlv(
        TLV.MANAGEMENT_ADDRESS,
        Buffer.concat([
          Buffer.from([m.raw.length + 1, m.family]),
          m.raw,
          iface,
          Buffer.from([oid.length]),
          oid,
        ]),
      ),
    );
  }
  if (p.portVlanId !== undefined) {
    const v = Buffer.alloc(2);
    v.writeUInt16BE(p.portVlanId);
    parts.push(tlv(TLV.ORG_SPECIFIC, Buffer.concat([ouiBytes(OUI_IEEE_8021), Buffer.from([1]), v])));
  }
  for (const o of p.orgSpecific ?? []) {
    parts.push(tlv(TLV.ORG_SPECIFIC, Buffer.concat([ouiBytes(o.oui), Buffer.from([o.subtype]), o.info])));
  }
  for (const u of p.unknown ?? []) parts.push(tlv(u.type, u.value));
  parts.push(tlv(TLV.END, Buffer.alloc(0)));
  return Buffer.concat(parts);
}
