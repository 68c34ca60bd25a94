/**
 * Typed option values (RFC 2132 and the PXE / iPXE options): builders for replies and a
 * validating reader that turns a decoded request into the fields the policy uses. No I/O.
 */
import {
  type DecodeError,
  type DhcpPacket,
  MESSAGE_TYPES,
  type MessageType,
  OPT,
  type OptionMap,
  macOf,
} from './codec.js';
import { type Ip, readIp, writeIp } from './ipv4.js';

/** iPXE's encapsulated option space inside option 175 (iPXE `include/ipxe/dhcp.h`). */
export const IPXE = {
  /** `scriptlet`: a string the boot script reads as `${scriptlet}`. */
  SCRIPTLET: 81,
  /** `no-pxedhcp`: skip waiting for ProxyDHCP offers. */
  NO_PXEDHCP: 176,
} as const;

/** Client system architectures of option 93 (RFC 4578 §2.1, IANA registry) that matter here. */
export const ARCH = { BIOS: 0, EFI_IA32: 6, EFI_BC: 7, EFI_X64: 9, EFI_X64_HTTP: 16 } as const;

// ---------------------------------------------------------------------------------------------
// Builders

export function ipOpt(...ips: Ip[]): Uint8Array {
  const b = new Uint8Array(4 * ips.length);
  for (let i = 0; i < ips.length; i++) writeIp(b, 4 * i, ips[i]!);
  return b;
}

export function u32Opt(n: number): Uint8Array {
  return Uint8Array.of((n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
}

export function u8Opt(n: number): Uint8Array {
  return Uint8Array.of(n & 255);
}

export function textOpt(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'utf8'));
}

/** Sub-options of an encapsulated space (option 43 or 175): code, length, value… (no END). */
export function encapsulate(sub: Array<[code: number, data: Uint8Array]>): Uint8Array {
  const len = sub.reduce((n, [, d]) => n + 2 + d.length, 0);
  const out = new Uint8Array(len);
  let i = 0;
  for (const [code, d] of sub) {
    out[i] = code;
    out[i + 1] = d.length;
    out.set(d, i + 2);
    i += 2 + d.length;
  }
  return out;
}

/** Parses an encapsulated space; undefined when the TLVs run past the end. PAD/END honoured. */
export function decapsulate(data: Uint8Array): Map<number, Uint8Array> | undefined {
  const out = new Map<number, Uint8Array>();
  let i = 0;
  while (i < data.length) {
    const code = data[i]!;
    if (code === 0) {
      i++;
      continue;
    }
    if (code === 255) break;
    if (i + 1 >= data.length) return undefined;
    const len = data[i + 1]!;
    if (i + 2 + len > data.length) return undefined;
    out.set(code, data.subarray(i + 2, i + 2 + len));
    i += 2 + len;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading a request

/** A client request with every option the policy looks at, validated. */
export interface DhcpRequest {
  packet: DhcpPacket;
  /** undefined for plain BOOTP (no option 53). */
  type: MessageType | undefined;
  /** Lowercase `aa:bb:cc:dd:ee:ff` for Ethernet; undefined for other hardware types. */
  mac: string | undefined;
  requestedIp: Ip | undefined;
  serverId: Ip | undefined;
  /** Option 55, in client order (a view into the request: valid while it is handled). */
  paramRequest: Uint8Array;
  /** Option 57: the largest DHCP message the client accepts. */
  maxMessageSize: number | undefined;
  vendorClass: string | undefined;
  /** Option 61 as lowercase hex (type byte first). */
  clientId: string | undefined;
  hostname: string | undefined;
  /**
   * Option 77. RFC 3004 encodes length-prefixed instances, but iPXE sends the bare string
   * `iPXE` (see the golden packets), so a value that does not parse as RFC 3004 is taken whole.
   */
  userClasses: readonly string[];
  /** Option 93, one entry per architecture the client supports (RFC 4578 §2.1). */
  clientArch: readonly number[];
  /** Option 175 sub-options when the client sent 175 (iPXE does, with its feature flags). */
  ipxe: Map<number, Uint8Array> | undefined;
  /** Option 82 verbatim; echoed back in replies (RFC 3046 §2.2). */
  relayAgentInfo: Uint8Array | undefined;
  /** Option 61 verbatim; echoed back in replies (RFC 6842). */
  clientIdRaw: Uint8Array | undefined;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const NO_PARAMS = new Uint8Array(0);
const NONE: readonly never[] = Object.freeze([]);

function hex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += HEX[b[i]!]!;
  return s;
}

function latin1(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

function bad(code: number, why: string): DecodeError {
  return { ok: false, reason: 'bad-option', detail: `option ${code}: ${why}` };
}

function fixedIp(opts: OptionMap, code: number): Ip | undefined | DecodeError {
  const v = opts.get(code);
  if (v === undefined) return undefined;
  if (v.length !== 4) return bad(code, `expected 4 bytes, got ${v.length}`);
  return readIp(v, 0);
}

function parseUserClass(v: Uint8Array): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < v.length) {
    const len = v[i]!;
    if (len === 0 || i + 1 + len > v.length) return [latin1(v)];
    out.push(latin1(v.subarray(i + 1, i + 1 + len)));
    i += 1 + len;
  }
  return out;
}

/**
 * Validates the options of a client message. Values that would change the answer (message
 * type, addresses, sizes, architecture) must be well-formed or the packet is malformed;
 * informational ones (hostname, vendor class) are taken as they come.
 */
export function readRequest(packet: DhcpPacket): { ok: true; request: DhcpRequest } | DecodeError {
  const o = packet.options;
  let type: MessageType | undefined;
  const t = o.get(OPT.MESSAGE_TYPE);
  if (t !== undefined) {
    if (t.length !== 1) return bad(OPT.MESSAGE_TYPE, `expected 1 byte, got ${t.length}`);
    const name = MESSAGE_TYPES[t[0]!];
    if (!name) return bad(OPT.MESSAGE_TYPE, `unknown message type ${t[0]}`);
    type = name;
  }
  const requestedIp = fixedIp(o, OPT.REQUESTED_IP);
  if (typeof requestedIp === 'object') return requestedIp;
  const serverId = fixedIp(o, OPT.SERVER_ID);
  if (typeof serverId === 'object') return serverId;
  let maxMessageSize: number | undefined;
  const mms = o.get(OPT.MAX_MESSAGE_SIZE);
  if (mms !== undefined) {
    if (mms.length !== 2) return bad(OPT.MAX_MESSAGE_SIZE, `expected 2 bytes, got ${mms.length}`);
    maxMessageSize = (mms[0]! << 8) | mms[1]!;
  }
  let clientArch: readonly number[] = NONE;
  const arch = o.get(OPT.CLIENT_ARCH);
  if (arch !== undefined) {
    if (arch.length === 0 || arch.length % 2 !== 0)
      return bad(OPT.CLIENT_ARCH, `length ${arch.length} is not a positive multiple of 2`);
    const list: number[] = [];
    for (let i = 0; i < arch.length; i += 2) list.push((arch[i]! << 8) | arch[i + 1]!);
    clientArch = list;
  }
  const cid = o.get(OPT.CLIENT_ID);
  if (cid !== undefined && cid.length < 2)
    return bad(OPT.CLIENT_ID, 'RFC 2132 §9.14 requires at least 2 bytes');
  const ipxeRaw = o.get(OPT.IPXE_ENCAP);
  // A malformed 175 still marks the client as iPXE; its sub-options are then ignored.
  const ipxe = ipxeRaw === undefined ? undefined : (decapsulate(ipxeRaw) ?? new Map<number, Uint8Array>());
  const uc = o.get(OPT.USER_CLASS);
  const host = o.get(OPT.HOSTNAME);
  const vc = o.get(OPT.VENDOR_CLASS);
  const prl = o.get(OPT.PARAM_REQUEST_LIST);
  return {
    ok: true,
    request: {
      packet,
      type,
      mac: macOf(packet),
      requestedIp,
      serverId,
      paramRequest: prl ?? NO_PARAMS,
      maxMessageSize,
      vendorClass: vc && vc.length > 0 ? latin1(vc) : undefined,
      clientId: cid ? hex(cid) : undefined,
      hostname: host && host.length > 0 ? latin1(host).replace(/\0+$/, '') : undefined,
      userClasses: uc && uc.length > 0 ? parseUserClass(uc) : NONE,
      clientArch,
      ipxe,
      relayAgentInfo: o.get(OPT.RELAY_AGENT_INFO),
      clientIdRaw: cid,
    },
  };
}

/** Relay agent sub-options (RFC 3046 §2.0): 1 circuit id, 2 remote id; for logs only. */
export function relayAgentSummary(v: Uint8Array): Record<string, string> {
  const sub = decapsulate(v);
  if (!sub) return { raw: hex(v) };
  const out: Record<string, string> = {};
  for (const [code, d] of sub)
    out[code === 1 ? 'circuitId' : code === 2 ? 'remoteId' : `sub${code}`] = hex(d);
  return out;
}
