import { type CtEntry, type CtTuple, IPS, TCP_STATES } from './codec.js';

/**
 * conntrack(8)'s event text (`conntrack -E -e NEW -j`, spec §11.3), prefixed with an ISO time
 * and suffixed with who held the source address then:
 *   2024-05-01T10:00:00.000Z [NEW] tcp      6 120 SYN_SENT src=192.168.0.12 dst=1.2.3.4
 *     sport=40312 dport=443 [UNREPLIED] src=1.2.3.4 dst=10.0.0.2 sport=443 dport=40312 host=m12 login=joe
 */
const PROTO_NAMES: Record<number, string> = {
  1: 'icmp',
  6: 'tcp',
  17: 'udp',
  33: 'dccp',
  58: 'icmpv6',
  132: 'sctp',
  136: 'udplite',
  47: 'gre',
};

export function protoName(proto: number): string {
  return PROTO_NAMES[proto] ?? 'unknown';
}

function tupleText(t: CtTuple): string {
  const parts = [`src=${t.src}`, `dst=${t.dst}`];
  if (t.icmpType !== undefined || t.icmpId !== undefined) {
    parts.push(`type=${t.icmpType ?? 0}`, `code=${t.icmpCode ?? 0}`, `id=${t.icmpId ?? 0}`);
  } else {
    if (t.sport !== undefined) parts.push(`sport=${t.sport}`);
    if (t.dport !== undefined) parts.push(`dport=${t.dport}`);
  }
  return parts.join(' ');
}

export interface Attribution {
  hostname?: string;
  login?: string;
}

const KIND_TAG: Record<CtEntry['kind'], string> = {
  new: '[NEW]',
  update: '[UPDATE]',
  destroy: '[DESTROY]',
  dump: '[NEW]',
};

/** The conntrack text of one entry (without time and attribution). */
export function conntrackText(e: CtEntry): string {
  const name = protoName(e.orig.proto);
  const head = [`${KIND_TAG[e.kind]} ${name.padEnd(8)} ${e.orig.proto}`];
  if (e.timeout !== undefined) head.push(String(e.timeout));
  if (e.tcpState !== undefined) head.push(TCP_STATES[e.tcpState] ?? String(e.tcpState));
  head.push(tupleText(e.orig));
  if (!(e.status & IPS.SEEN_REPLY)) head.push('[UNREPLIED]');
  head.push(tupleText(e.reply));
  if (e.status & IPS.ASSURED) head.push('[ASSURED]');
  return head.join(' ');
}

/** One connection-log line; `recovered` marks entries found by a resync dump after an overrun. */
export function connectionLine(
  at: Date,
  e: CtEntry,
  who: Attribution,
  opts: { recovered?: boolean } = {},
): string {
  const tail = `host=${who.hostname ?? '-'} login=${who.login ?? '-'}${opts.recovered ? ' recovered=dump' : ''}`;
  return `${at.toISOString()} ${conntrackText(e)} ${tail}`;
}

/** Structured-log fields of the same entry. */
export function connectionFields(e: CtEntry, who: Attribution): Record<string, unknown> {
  return {
    proto: protoName(e.orig.proto),
    src: e.orig.src,
    dst: e.orig.dst,
    sport: e.orig.sport,
    dport: e.orig.dport,
    replySrc: e.reply.src,
    replyDst: e.reply.dst,
    replySport: e.reply.sport,
    replyDport: e.reply.dport,
    id: e.id,
    hostname: who.hostname ?? null,
    login: who.login ?? null,
  };
}
