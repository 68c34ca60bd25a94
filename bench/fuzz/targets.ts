/**
 * The decoders the fuzz harness feeds, each with golden (valid) inputs to mutate and the
 * error contract it promises. `run` returns whether the input was accepted; it throws only on a
 * crash — an exception the decoder's contract does not allow, or (DNS) a fault the decoder
 * caught itself and reported as `decoder fault`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as dnsPacket from 'dns-packet';
import { networkConfigSchema } from '../../src/config/network.js';
import { decodePacket as decodeDhcp, encodePacket as encodeDhcp, OPT } from '../../src/dhcp/codec.js';
import { parseIpUdp } from '../../src/dhcp/ip-udp.js';
import { decodeMessage as decodeDns } from '../../src/dns/decode.js';
import { GatehouseError } from '../../src/errors.js';
import { decodeLldpdu, encodeLldpdu } from '../../src/lldp/codec.js';
import { firewallConfigSchema } from '../../src/nft/config.js';
import { decodeCtMessage, encodeCtEntry } from '../../src/nft/conntrack/codec.js';
import { conntrackText } from '../../src/nft/conntrack/format.js';
import { NetlinkDecodeError } from '../../src/nft/netlink/attr.js';
import {
  NFNL_SUBSYS_CTNETLINK,
  NFNL_SUBSYS_NFTABLES,
  NFNL_SUBSYS_ULOG,
  NLMSG_ERROR,
  nfnlType,
} from '../../src/nft/netlink/constants.js';
import {
  decodeAck,
  decodeMessages,
  encodeAck,
  encodeMessage,
  type NetlinkMessage,
} from '../../src/nft/netlink/message.js';
import { decodeNflogPacket, encodeNflogPacket, NFULNL_MSG } from '../../src/nft/nflog/codec.js';
import { kernelLogText } from '../../src/nft/nflog/log-line.js';
import { planFromConfig, rulesetMessages } from '../../src/nft/ruleset.js';
import { NFT_MSG } from '../../src/nft/tables/constants.js';
import {
  decodeChain,
  decodeRule,
  decodeSet,
  decodeSetElements,
  decodeTable,
} from '../../src/nft/tables/messages.js';
import { parseSessionData } from '../../src/presence/http.js';
import { bindArgs } from '../../src/rpc/args.js';
import { decodeRpcBody, RpcReply } from '../../src/rpc/body.js';
import { RpcException } from '../../src/rpc/errors.js';
import { checkToken, generateToken } from '../../src/sync/timeauth.js';
import { argsFrom, checkSigned } from '../../src/sync/tornado.js';
import { parseUpdateList } from '../../src/sync/updates.js';
import {
  decodePacket as decodeTftp,
  encodeData,
  encodeError,
  encodeOack,
  encodeRequest,
  encodeAck as tftpAck,
} from '../../src/tftp/codec.js';
import { isRequestShaped, malformedRequestReply } from '../../src/tftp/policy.js';

export interface FuzzTarget {
  name: string;
  /** What is fed, for the results table. */
  what: string;
  goldens(): Buffer[];
  /** Longest purely random input. */
  maxRandom: number;
  /** true: accepted; false: refused within the contract. Throws on a crash. */
  run(input: Buffer): boolean;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');

// ---------------------------------------------------------------------------------------- DNS

function dnsGoldens(): Buffer[] {
  const q = (name: string, type: string, extra: Partial<dnsPacket.Packet> = {}) =>
    dnsPacket.encode({
      type: 'query',
      id: 0x1234,
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ type: type as dnsPacket.RecordType, name, class: 'IN' }],
      ...extra,
    });
  const opt = { type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0 } as dnsPacket.Answer;
  return [
    q('mdb.prolo', 'A'),
    q('pas-r01p01.prolo', 'AAAA', { additionals: [opt] }),
    q('1.0.168.192.in-addr.arpa', 'PTR'),
    q('prolo', 'SOA', { additionals: [opt] }),
    q('prolo', 'AXFR'),
    dnsPacket.encode({
      type: 'response',
      id: 7,
      flags: dnsPacket.AUTHORITATIVE_ANSWER,
      questions: [{ type: 'A', name: 'www.prolo', class: 'IN' }],
      answers: [
        { type: 'CNAME', name: 'www.prolo', ttl: 300, data: 'web.prolo' },
        { type: 'A', name: 'web.prolo', ttl: 300, data: '192.168.1.10' },
        { type: 'MX', name: 'prolo', ttl: 300, data: { preference: 10, exchange: 'mail.prolo' } },
        { type: 'TXT', name: 'prolo', ttl: 300, data: ['hello', 'world'] },
      ],
      authorities: [
        {
          type: 'SOA',
          name: 'prolo',
          ttl: 300,
          data: {
            mname: 'ns.prolo',
            rname: 'root.prolo',
            serial: 2026120701,
            refresh: 3600,
            retry: 600,
            expire: 86400,
            minimum: 60,
          },
        },
      ],
      additionals: [opt],
    }),
  ];
}

export const dns: FuzzTarget = {
  name: 'dns',
  what: 'src/dns/decode.ts decodeMessage',
  goldens: dnsGoldens,
  maxRandom: 600,
  run(input) {
    const r = decodeDns(input);
    // The decoder catches everything itself; an exception that is not its FormatError is a bug.
    if (!r.ok && r.error.startsWith('decoder fault')) throw new Error(r.error);
    return r.ok;
  },
};

// --------------------------------------------------------------------------------------- DHCP

function dhcpGoldens(): Buffer[] {
  const dir = path.join(repo, 'test/dhcp/golden');
  const out = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.hex'))
    .map((f) => Buffer.from(fs.readFileSync(path.join(dir, f), 'utf8').replace(/\s+/g, ''), 'hex'));
  // One with option overload (file and sname carry options) so that path is seeded too.
  const long = encodeDhcp(
    {
      op: 2,
      htype: 1,
      hlen: 6,
      hops: 0,
      xid: 1,
      secs: 0,
      flags: 0,
      ciaddr: 0,
      yiaddr: 0xc0a80001,
      siaddr: 0,
      giaddr: 0,
      chaddr: Buffer.from('525400123456', 'hex'),
      sname: '',
      file: '',
      options: [
        [OPT.MESSAGE_TYPE, Buffer.from([2])],
        [OPT.VENDOR_CLASS, Buffer.alloc(250, 0x41)],
        [OPT.HOSTNAME, Buffer.alloc(200, 0x42)],
      ],
    } as Parameters<typeof encodeDhcp>[0],
    { maxSize: 576 },
  ).bytes;
  return [...out, long];
}

export const dhcp: FuzzTarget = {
  name: 'dhcp',
  what: 'src/dhcp/codec.ts decodePacket + ip-udp.ts parseIpUdp',
  goldens: dhcpGoldens,
  maxRandom: 700,
  run(input) {
    const r = decodeDhcp(input);
    // The raw-socket transport parses IP+UDP first: feed the same bytes as a datagram too.
    const ip = parseIpUdp(input);
    return r.ok || ip.ok;
  },
};

// --------------------------------------------------------------------------------------- TFTP

export const tftp: FuzzTarget = {
  name: 'tftp',
  what: 'src/tftp/codec.ts decodePacket + policy malformedRequestReply',
  goldens: () => [
    encodeRequest({ filename: 'prologin.kpxe', mode: 'octet', options: [] }),
    encodeRequest({
      filename: '/pxelinux.cfg/01-52-54-00-12-34-56',
      mode: 'netascii',
      options: [
        { name: 'tsize', value: '0' },
        { name: 'blksize', value: '1468' },
        { name: 'windowsize', value: '16' },
        { name: 'timeout', value: '2' },
      ],
    }),
    encodeRequest({ op: 'WRQ', filename: 'up.bin', mode: 'octet', options: [] }),
    encodeData(1, Buffer.alloc(512, 7)),
    tftpAck(65535),
    encodeError(1, 'File not found'),
    encodeOack([{ name: 'blksize', value: '1468' }]),
  ],
  maxRandom: 600,
  run(input) {
    const r = decodeTftp(input);
    if (!r.ok && isRequestShaped(input)) {
      const reply = malformedRequestReply(r.error);
      if (!Number.isInteger(reply.code) || reply.message.length === 0) throw new Error('bad malformed reply');
    }
    return r.ok;
  },
};

// --------------------------------------------------------------------------------------- LLDP

export const lldp: FuzzTarget = {
  name: 'lldp',
  what: 'src/lldp/codec.ts decodeLldpdu',
  goldens: () => [
    encodeLldpdu({
      chassisId: { subtype: 4, raw: Buffer.from('aabbcc000001', 'hex') },
      portId: { subtype: 5, raw: Buffer.from('ge-0/0/12') },
      ttl: 120,
      portDescription: 'pas-r01p01',
      systemName: 'sw-pasteur-1',
      systemDescription: 'Juniper EX2200',
      capabilities: { supported: 0x14, enabled: 0x04 },
      managementAddresses: [
        {
          family: 1,
          raw: Buffer.from([192, 168, 1, 2]),
          interfaceSubtype: 2,
          interfaceNumber: 3,
          oid: Buffer.from([1, 3, 6]),
        },
      ],
      portVlanId: 10,
      orgSpecific: [{ oui: '00:12:0f', subtype: 1, info: Buffer.from([3, 0x6c, 0, 0x10]) }],
      unknown: [{ type: 100, value: Buffer.from('x') }],
    }),
    encodeLldpdu({
      chassisId: { subtype: 7, raw: Buffer.from('switch') },
      portId: { subtype: 3, raw: Buffer.from('525400123456', 'hex') },
      ttl: 0,
    }),
  ],
  maxRandom: 600,
  run(input) {
    return decodeLldpdu(input).ok;
  },
};

// ------------------------------------------------------------------- nf_tables / ctnetlink / nflog

/** Netlink parsers promise NetlinkDecodeError (a GatehouseError) for anything malformed. */
function netlinkContract(fn: () => void): boolean {
  try {
    fn();
    return true;
  } catch (e) {
    if (e instanceof NetlinkDecodeError || e instanceof GatehouseError) return false;
    throw e;
  }
}

/** Every message of the datagram through `decoders`, each forced to the type it expects. */
function eachMessage(input: Buffer, decoders: Array<[number, (m: NetlinkMessage) => unknown]>): boolean {
  let accepted = false;
  const split = netlinkContract(() => {
    for (const m of decodeMessages(input)) {
      for (const [type, decode] of decoders) {
        if (netlinkContract(() => decode({ ...m, type }))) accepted = true;
      }
    }
  });
  return split && accepted;
}

const asWire = (msgs: Array<{ type: number; flags: number; payload: Buffer }>) =>
  msgs.map((m, i) => encodeMessage({ ...m, seq: i + 1, pid: 0 }));

const nft = (msg: number) => nfnlType(NFNL_SUBSYS_NFTABLES, msg);

export const nftables: FuzzTarget = {
  name: 'nftables',
  what: 'src/nft/netlink message+attr parsing, tables/messages.ts decode{Table,Chain,Rule,Set,SetElements} (expressions)',
  goldens: () => {
    const plan = planFromConfig(
      firewallConfigSchema.parse({ lanInterfaces: ['lan0'], uplinkInterfaces: ['uplink'] }),
      networkConfigSchema.parse({}),
    );
    const wire = asWire(rulesetMessages(plan, ['192.168.0.1', '192.168.0.2']));
    const request = { type: nft(NFT_MSG.NEWRULE), flags: 5, seq: 1, pid: 0 };
    const acks = [
      encodeAck({ errno: 0, request }),
      encodeAck({ errno: 2, request, extMessage: 'Chain not found', extOffset: 36 }),
    ];
    return [...wire, Buffer.concat(wire.slice(0, 4)), ...acks];
  },
  maxRandom: 1024,
  run(input) {
    return eachMessage(input, [
      [nft(NFT_MSG.NEWTABLE), decodeTable],
      [nft(NFT_MSG.NEWCHAIN), decodeChain],
      [nft(NFT_MSG.NEWRULE), decodeRule],
      [nft(NFT_MSG.NEWSET), decodeSet],
      [nft(NFT_MSG.NEWSETELEM), decodeSetElements],
      [NLMSG_ERROR, decodeAck],
    ]);
  },
};

export const ctnetlink: FuzzTarget = {
  name: 'ctnetlink',
  what: 'src/nft/conntrack/codec.ts decodeCtMessage + format.ts conntrackText',
  goldens: () => {
    const entry = {
      kind: 'new' as const,
      family: 2,
      orig: { src: '192.168.0.1', dst: '1.1.1.1', proto: 6, sport: 40000, dport: 443 },
      reply: { src: '1.1.1.1', dst: '203.0.113.5', proto: 6, sport: 443, dport: 40000 },
      status: 0x18e,
      id: 77,
      timeout: 120,
      tcpState: 3,
      mark: 1,
      zone: 0,
    };
    const v6 = {
      ...entry,
      family: 10,
      orig: { src: '2001:db8::1', dst: '2001:db8::2', proto: 58, icmpId: 1, icmpType: 128, icmpCode: 0 },
      reply: { src: '2001:db8::2', dst: '2001:db8::1', proto: 58, icmpId: 1, icmpType: 129, icmpCode: 0 },
    };

    return asWire([encodeCtEntry(entry), encodeCtEntry(v6)]);
  },
  maxRandom: 1024,
  run(input) {
    const type = nfnlType(NFNL_SUBSYS_CTNETLINK, 0);
    return eachMessage(input, [
      [type, (m) => conntrackText(decodeCtMessage(m))],
      [type, (m) => decodeCtMessage(m, true)],
    ]);
  },
};

export const nflog: FuzzTarget = {
  name: 'nflog',
  what: 'src/nft/nflog/codec.ts decodeNflogPacket + log-line.ts kernelLogText (the logged IP packet)',
  goldens: () => {
    const ipTcp = Buffer.from(
      '450000340001400040060000c0a80001010101019c4001bb00000000000000005002200000000000020405b40103030801010402',
      'hex',
    );
    const ipUdp = Buffer.from('4500001c0002000040110000c0a80001c0a801fe1f9000350008000000', 'hex');
    const base = {
      group: 3,
      family: 2,
      hwProtocol: 0x0800,
      hook: 1,
      prefix: 'gatehouse-new ',
      payload: ipTcp,
      ifindex: 2,
      outdev: 3,
      hwaddr: Buffer.from('525400123456', 'hex'),
      hwtype: 1,
      hwheader: Buffer.from('ffffffffffff5254001234560800', 'hex'),
      mark: 0,
      uid: 0,
      gid: 0,
      timestampUs: 1_700_000_000_000_000n,
    };
    return asWire([encodeNflogPacket(base), encodeNflogPacket({ ...base, payload: ipUdp, prefix: '' })]);
  },
  maxRandom: 1024,
  run(input) {
    return eachMessage(input, [
      [
        nfnlType(NFNL_SUBSYS_ULOG, NFULNL_MSG.PACKET),
        (m) => {
          const p = decodeNflogPacket(m);
          return kernelLogText(p.prefix, 'lan0', undefined, p.payload);
        },
      ],
    ]);
  },
};

// ------------------------------------------------------------------------ RPC JSON and HMAC forms

const SECRET = 'fuzz-secret';
const NOW = 1_800_000_000;
const SIGNATURE = {
  name: 'query',
  params: ['hostname', 'ip', 'aliases'],
  defaults: { ip: null, aliases: null },
  varKwargs: true,
};

export const rpcJson: FuzzTarget = {
  name: 'rpc-json',
  what: 'src/rpc/body.ts decodeRpcBody, timeauth checkToken of "hmac", args.ts bindArgs',
  goldens: () =>
    [
      { args: ['pas-r01p01'], kwargs: {} },
      {
        args: [],
        kwargs: { hostname: 'pas-r01p01', ip: '192.168.0.1' },
        hmac: generateToken(SECRET, 'query', NOW),
      },
      { args: [1, 2, 3, 4], kwargs: { extra: [1, { a: null }], é: 'ü' } },
      {},
    ].map((v) => Buffer.from(JSON.stringify(v))),
  maxRandom: 300,
  run(input) {
    try {
      const data = decodeRpcBody(input);
      if (typeof data.hmac === 'string') checkToken(data.hmac, SECRET, 'query', { enabled: true, now: NOW });
      const { args, kwargs } = data;
      if (!Array.isArray(args) || kwargs === null || typeof kwargs !== 'object' || Array.isArray(kwargs))
        return false;
      bindArgs(SIGNATURE, args, kwargs as Record<string, unknown>);
      return true;
    } catch (e) {
      if (e instanceof RpcReply || e instanceof RpcException) return false;
      throw e;
    }
  },
};

function signedForm(data: string, signed = data): Buffer {
  return Buffer.from(new URLSearchParams({ data, hmac: generateToken(SECRET, signed, NOW) }).toString());
}

export const hmacForm: FuzzTarget = {
  name: 'hmac-form',
  what: 'sync/tornado.ts argsFrom (form body) + checkSigned, then the /update and presence data parsers',
  goldens: () => [
    signedForm(JSON.stringify([{ type: 'update', data: { hostname: 'pas-r01p01', ip: '192.168.0.1' } }])),
    signedForm(
      JSON.stringify([
        { type: 'delete', data: { hostname: 'x' } },
        { type: 'create', data: { hostname: 'y', n: 1 } },
      ]),
    ),
    signedForm(JSON.stringify({ login: 'aproviste', hostname: 'pas-r01p01' })),
    Buffer.from('data=%7B%7D&hmac=1%3Aabc&data=x&since=12&seq=1'),
  ],
  maxRandom: 300,
  run(input) {
    // Half the inputs as if timeauth were off, so mutated data reaches the parsers behind the HMAC.
    const enabled = input.length % 2 === 0;
    const args = argsFrom(new URLSearchParams('since=1'), input);
    const signed = checkSigned(args, SECRET, { checkMsg: true, timeauthEnabled: enabled, now: NOW });
    if (!signed.ok) return false;
    let decoded: unknown;
    try {
      decoded = JSON.parse(signed.data);
    } catch (e) {
      if (e instanceof SyntaxError) return false; // the handlers answer 500 bad_json
      throw e;
    }
    const updates = parseUpdateList(decoded, 'hostname');
    const session = parseSessionData(signed.data);
    return typeof updates !== 'string' || typeof session !== 'string';
  },
};

export const TARGETS: readonly FuzzTarget[] = [
  dns,
  dhcp,
  tftp,
  lldp,
  nftables,
  ctnetlink,
  nflog,
  rpcJson,
  hmacForm,
];
