import {
  BOOTREQUEST,
  MSG,
  type MessageType,
  OPT,
  type OptionList,
  decodePacket,
  encodePacket,
} from '../../src/dhcp/codec.js';
import { type Ip, formatIp, ip } from '../../src/dhcp/ipv4.js';
import { type DhcpRequest, decapsulate, ipOpt, readRequest, textOpt, u8Opt } from '../../src/dhcp/options.js';
import type { Machine } from '../../src/mdb/model.js';
import { machineRecord } from '../helpers/records.js';

export interface ClientMessage {
  type: MessageType;
  mac: string;
  xid?: number;
  requested?: string;
  serverId?: string;
  ciaddr?: string;
  giaddr?: string;
  broadcastFlag?: boolean;
  /** Option 55. */
  prl?: number[];
  userClass?: string;
  arch?: number;
  vendorClass?: string;
  clientId?: string;
  /** Option 175 present (iPXE feature flags). */
  ipxe?: boolean;
  relayAgent?: Uint8Array;
  extra?: OptionList;
}

export function macBytes(mac: string): Buffer {
  return Buffer.concat([Buffer.from(mac.replace(/:/g, ''), 'hex'), Buffer.alloc(10)]);
}

/** A client (or relay-forwarded) message as bytes. */
export function clientBytes(m: ClientMessage): Buffer {
  const options: OptionList = [[OPT.MESSAGE_TYPE, u8Opt(MSG[m.type])]];
  if (m.requested) options.push([OPT.REQUESTED_IP, ipOpt(ip(m.requested))]);
  if (m.serverId) options.push([OPT.SERVER_ID, ipOpt(ip(m.serverId))]);
  if (m.clientId) options.push([OPT.CLIENT_ID, Buffer.from(m.clientId, 'hex')]);
  if (m.vendorClass) options.push([OPT.VENDOR_CLASS, textOpt(m.vendorClass)]);
  if (m.userClass) options.push([OPT.USER_CLASS, textOpt(m.userClass)]);
  if (m.arch !== undefined) options.push([OPT.CLIENT_ARCH, Uint8Array.of(m.arch >> 8, m.arch & 255)]);
  if (m.ipxe) options.push([OPT.IPXE_ENCAP, Uint8Array.of(0x11, 1, 1, 0x13, 1, 1)]);
  options.push([OPT.PARAM_REQUEST_LIST, Uint8Array.from(m.prl ?? [1, 3, 6, 12, 15])]);
  for (const o of m.extra ?? []) options.push(o);
  if (m.relayAgent) options.push([OPT.RELAY_AGENT_INFO, m.relayAgent]);
  return encodePacket({
    op: BOOTREQUEST,
    htype: 1,
    hlen: 6,
    hops: m.giaddr ? 1 : 0,
    xid: m.xid ?? 0x1234,
    secs: 0,
    flags: m.broadcastFlag ? 0x8000 : 0,
    ciaddr: m.ciaddr ? ip(m.ciaddr) : 0,
    yiaddr: 0,
    siaddr: 0,
    giaddr: m.giaddr ? ip(m.giaddr) : 0,
    chaddr: macBytes(m.mac),
    sname: '',
    file: '',
    options,
  }).bytes;
}

export function clientRequest(m: ClientMessage): DhcpRequest {
  const d = decodePacket(clientBytes(m));
  if (!d.ok) throw new Error(d.detail);
  const r = readRequest(d.packet);
  if (!r.ok) throw new Error(r.detail);
  return r.request;
}

/** A decoded server reply in test-friendly form. */
export interface ReplyView {
  type: string;
  xid: number;
  flags: number;
  yiaddr: string;
  siaddr: string;
  ciaddr: string;
  giaddr: string;
  file: string;
  serverId?: string;
  leaseTime?: number;
  mask?: string;
  router?: string;
  dns?: string;
  hostname?: string;
  domain?: string;
  vendorClass?: string;
  bootfileOption?: string;
  tftpServerOption?: string;
  message?: string;
  ipxe?: Record<number, string | number>;
  relayAgent?: string;
  clientId?: string;
  codes: number[];
  size: number;
}

const TYPE_NAMES = ['', 'DISCOVER', 'OFFER', 'REQUEST', 'DECLINE', 'ACK', 'NAK', 'RELEASE', 'INFORM'];

export function viewReply(bytes: Uint8Array): ReplyView {
  const d = decodePacket(bytes);
  if (!d.ok) throw new Error(`reply does not decode: ${d.detail}`);
  const p = d.packet;
  const o = p.options;
  const str = (c: number) => (o.has(c) ? Buffer.from(o.get(c)!).toString('utf8') : undefined);
  const addr = (c: number) => (o.has(c) ? formatIp(Buffer.from(o.get(c)!).readUInt32BE(0)) : undefined);
  const v: ReplyView = {
    type: TYPE_NAMES[o.get(OPT.MESSAGE_TYPE)?.[0] ?? 0] ?? '?',
    xid: p.xid,
    flags: p.flags,
    yiaddr: formatIp(p.yiaddr),
    siaddr: formatIp(p.siaddr),
    ciaddr: formatIp(p.ciaddr),
    giaddr: formatIp(p.giaddr),
    file: p.file,
    codes: [...o.keys()],
    size: bytes.length,
  };
  const set = <K extends keyof ReplyView>(k: K, val: ReplyView[K] | undefined) => {
    if (val !== undefined) v[k] = val;
  };
  set('serverId', addr(OPT.SERVER_ID));
  set('leaseTime', o.has(OPT.LEASE_TIME) ? Buffer.from(o.get(OPT.LEASE_TIME)!).readUInt32BE(0) : undefined);
  set('mask', addr(OPT.SUBNET_MASK));
  set('router', addr(OPT.ROUTER));
  set('dns', addr(OPT.DNS));
  set('hostname', str(OPT.HOSTNAME));
  set('domain', str(OPT.DOMAIN_NAME));
  set('vendorClass', str(OPT.VENDOR_CLASS));
  set('bootfileOption', str(OPT.BOOTFILE_NAME));
  set('tftpServerOption', str(OPT.TFTP_SERVER_NAME));
  set('message', str(OPT.MESSAGE));
  set(
    'relayAgent',
    o.has(OPT.RELAY_AGENT_INFO) ? Buffer.from(o.get(OPT.RELAY_AGENT_INFO)!).toString('hex') : undefined,
  );
  set('clientId', o.has(OPT.CLIENT_ID) ? Buffer.from(o.get(OPT.CLIENT_ID)!).toString('hex') : undefined);
  if (o.has(OPT.IPXE_ENCAP)) {
    const sub = decapsulate(o.get(OPT.IPXE_ENCAP)!)!;
    v.ipxe = {};
    for (const [c, val] of sub) v.ipxe[c] = c === 176 ? val[0]! : Buffer.from(val).toString('utf8');
  }
  return v;
}

export function machine(
  hostname: string,
  mac: string,
  ipAddr: string,
  mtype: Machine['mtype'] = 'user',
): Machine {
  return machineRecord({ hostname, ip: ipAddr, mac, mtype });
}

export const ipOf = (s: string): Ip => ip(s);
