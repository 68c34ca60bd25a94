import type { NetSet } from './cidr.js';
import {
  CLASSIC_UDP_BYTES,
  Flag,
  HEADER_BYTES,
  Opcode,
  RRClass,
  RRType,
  Rcode,
  TsigError,
} from './constants.js';
import { type Message, decodeMessage } from './decode.js';
import { MessageWriter } from './encode.js';
import { FNV_OFFSET, fnv } from './fast-table.js';
import { nameToWire } from './names.js';
import {
  type CompiledView,
  type CompiledZone,
  type NameNode,
  type Snapshot,
  anyAnswer,
  nodataAnswer,
  positiveAnswer,
} from './snapshot.js';
import { type TsigKey, signMessage, unsignedTsig, verifyRequest } from './tsig.js';
import type { ViewName } from './zone.js';

/**
 * The answer policy: query bytes + client + snapshot → what to send. Pure apart from reading
 * the clock for TSIG. `answerFast` handles the common case (one IN question, optional plain
 * OPT, name in a zone) with a lookup, a copy and a few byte patches; everything else — and
 * anything it is unsure about — goes to `answerSlow`, which decodes fully.
 */
export interface TransferPeer {
  ip: number;
  key: TsigKey | undefined;
  view: ViewName;
  /** Zone names this peer may transfer; undefined = every MDB-generated zone. */
  zones: ReadonlySet<string> | undefined;
}

export interface AnswerPolicy {
  alienClients: NetSet;
  trusted: NetSet;
  /** Upstreams are configured: trusted clients' other names are forwarded. */
  recursion: boolean;
  /** Our EDNS UDP payload size (advertised, and the cap on UDP responses). */
  maxUdp: number;
  tsigKeys: ReadonlyMap<string, TsigKey>;
  peers: readonly TransferPeer[];
  /** Unix seconds (TSIG). */
  now(): number;
}

export interface ForwardRequest {
  id: number;
  /** RD and CD bits of the client's query. */
  flags: number;
  name: string;
  /** Question name bytes as the client sent them (case preserved), uncompressed. */
  nameWire: Buffer;
  type: number;
  class: number;
  /** Client's EDNS payload size, or undefined without OPT. */
  ednsSize: number | undefined;
  /** Largest response the client can take over this transport. */
  limit: number;
  /** Cache/coalescing key (lowercase name, type, class). */
  key: string;
}

export interface TransferRequest {
  kind: 'axfr' | 'ixfr';
  zone: CompiledZone;
  view: ViewName;
  message: Message;
  /** Client's current serial (IXFR authority SOA). */
  clientSerial: number | undefined;
  key: TsigKey | undefined;
  requestMac: Buffer | undefined;
  peer: string;
}

export type Outcome =
  | { kind: 'reply'; bytes: Buffer; label: string }
  | { kind: 'drop'; reason: string }
  | { kind: 'forward'; request: ForwardRequest }
  | { kind: 'transfer'; request: TransferRequest };

export const TCP_LIMIT = 65535;
const OPT_BYTES = 11;

/** Lowercased copy scratch for names with capitals (queries are processed one at a time). */
const scratch = Buffer.allocUnsafe(256);
/** Node's own latin1 decoder, without `toString`'s argument juggling (hot path). */
const latin1Slice = (
  Buffer.prototype as unknown as { latin1Slice(this: Buffer, start: number, end: number): string }
).latin1Slice;

export function viewFor(snapshot: Snapshot, policy: AnswerPolicy, ip: number | undefined): CompiledView {
  return policy.alienClients.has(ip) ? snapshot.views.alien : snapshot.views.normal;
}

/**
 * Fast path. Returns the response, or undefined to hand the query to `answerSlow` (which then
 * also covers malformed input, TSIG, transfers, forwarding, NXDOMAIN and every error).
 */
export function answerFast(
  q: Buffer,
  ip: number | undefined,
  snapshot: Snapshot,
  policy: AnswerPolicy,
  tcp: boolean,
): Buffer | undefined {
  const len = q.length;
  if (len < 17) return undefined;
  const f1 = q[2]!;
  // QR=0, opcode QUERY; QDCOUNT=1, ANCOUNT=NSCOUNT=0, ARCOUNT 0 or 1.
  if (
    (f1 & 0xf8) !== 0 ||
    q[4] !== 0 ||
    q[5] !== 1 ||
    q[6] !== 0 ||
    q[7] !== 0 ||
    q[8] !== 0 ||
    q[9] !== 0 ||
    q[10] !== 0
  )
    return undefined;
  const ar = q[11]!;
  if (ar > 1) return undefined;
  let pos = HEADER_BYTES;
  let upper = false;
  let hash = FNV_OFFSET;
  for (;;) {
    if (pos >= len) return undefined;
    const l = q[pos]!;
    if (l === 0) break;
    if (l > 63) return undefined;
    const end = pos + 1 + l;
    if (end > len) return undefined;
    hash = fnv(hash, l);
    for (let i = pos + 1; i < end; i++) {
      let c = q[i]!;
      if (c >= 65 && c <= 90) {
        upper = true;
        c += 32;
      }
      hash = fnv(hash, c);
    }
    pos = end;
  }
  const nameEnd = pos + 1;
  if (nameEnd - HEADER_BYTES > 255 || nameEnd + 4 > len) return undefined;
  const qtype = (q[nameEnd]! << 8) | q[nameEnd + 1]!;
  if (q[nameEnd + 2] !== 0 || q[nameEnd + 3] !== RRClass.IN) return undefined;
  // TSIG, IXFR, AXFR, MAILB, MAILA (250-254), OPT and 0 need the slow path; ANY (255) does not.
  if ((qtype >= RRType.TSIG && qtype !== RRType.ANY) || qtype === RRType.OPT || qtype === 0) return undefined;
  let limit = tcp ? TCP_LIMIT : CLASSIC_UDP_BYTES;
  let edns = false;
  const tail = nameEnd + 4;
  if (ar === 1) {
    // A bare OPT: root owner, version 0, options well formed, nothing after it.
    if (
      tail + OPT_BYTES > len ||
      q[tail] !== 0 ||
      q[tail + 1] !== 0 ||
      q[tail + 2] !== RRType.OPT ||
      q[tail + 6] !== 0
    )
      return undefined;
    const rdlen = (q[tail + 9]! << 8) | q[tail + 10]!;
    if (tail + OPT_BYTES + rdlen !== len) return undefined;
    for (let o = tail + OPT_BYTES; o < len; ) {
      if (o + 4 > len) return undefined;
      o += 4 + ((q[o + 2]! << 8) | q[o + 3]!);
      if (o > len) return undefined;
    }
    edns = true;
    if (!tcp) {
      const size = (q[tail + 3]! << 8) | q[tail + 4]!;
      limit = Math.max(CLASSIC_UDP_BYTES, Math.min(size, policy.maxUdp));
    }
  } else if (tail !== len) return undefined;

  const view = viewFor(snapshot, policy, ip);
  hash = fnv(fnv(fnv(hash, 0), qtype >> 8), qtype & 0xff);
  const fast = view.fast;
  const slot = fast.find(hash, q, nameEnd, qtype);
  if (slot >= 0)
    return finish(
      fast.bytes,
      fast.offsetOf(slot),
      fast.lengthOf(slot),
      q,
      nameEnd,
      edns,
      limit,
      policy,
      ip,
      0,
      qtype,
      upper,
    );

  let key: string;
  if (upper) {
    for (let i = HEADER_BYTES; i < nameEnd; i++) {
      const c = q[i]!;
      scratch[i - HEADER_BYTES] = c >= 65 && c <= 90 ? c + 32 : c;
    }
    key = latin1Slice.call(scratch, 0, nameEnd - HEADER_BYTES);
  } else key = latin1Slice.call(q, HEADER_BYTES, nameEnd);
  const node = view.names.get(key);
  if (!node) {
    // NXDOMAIN here too: random-name floods should not pay for a full decode.
    const zone = findZone(view, key);
    if (!zone) return undefined;
    const ra = policy.recursion && policy.trusted.has(ip) ? Flag.RA : 0;
    const flags = (q[2]! << 8) | q[3]!;
    return negative(
      (q[0]! << 8) | q[1]!,
      flags,
      q.subarray(HEADER_BYTES, nameEnd),
      '',
      qtype,
      zone,
      Rcode.NXDOMAIN,
      edns,
      policy,
      ra,
    );
  }
  let tmpl = positiveAnswer(node, qtype);
  if (!tmpl && qtype === RRType.ANY) tmpl = anyAnswer(node);
  if (tmpl) {
    fast.add(hash, tmpl);
    return finish(tmpl, 0, tmpl.length, q, nameEnd, edns, limit, policy, ip, 0, qtype, upper);
  }
  const nodata = nodataAnswer(node);
  // NODATA for a common type (AAAA from every glibc client) is worth caching too, with its QTYPE
  // set; a budget keeps random-QTYPE floods from crowding out positive answers.
  if (fast.size < fast.capacity / 2) {
    const patched = Buffer.from(nodata);
    patched[node.qtypeAt] = qtype >> 8;
    patched[node.qtypeAt + 1] = qtype & 0xff;
    fast.add(hash, patched);
  }
  return finish(nodata, 0, nodata.length, q, nameEnd, edns, limit, policy, ip, node.qtypeAt, qtype, upper);
}

/** Copies a template, patches ID, RD/CD, RA, the question's case and QTYPE, adds OPT, truncates. */
function finish(
  src: Uint8Array,
  off: number,
  tlen: number,
  q: Buffer,
  nameEnd: number,
  edns: boolean,
  limit: number,
  policy: AnswerPolicy,
  ip: number | undefined,
  qtypeAt: number,
  qtype: number,
  caseDiffers = true,
): Buffer {
  const full = tlen + (edns ? OPT_BYTES : 0);
  const ra = policy.recursion && policy.trusted.has(ip) ? Flag.RA : 0;
  if (full > limit) return truncated(src[off + 2]!, src[off + 3]!, q, nameEnd, edns, policy, ra);
  const out = Buffer.allocUnsafe(full);
  // A byte loop: templates are tens of bytes, where set/copy cost more in call overhead.
  for (let i = 4; i < tlen; i++) out[i] = src[off + i]!;
  out[0] = q[0]!;
  out[1] = q[1]!;
  out[2] = src[off + 2]! | (q[2]! & 0x01);
  out[3] = src[off + 3]! | (q[3]! & 0x10) | ra;
  // The template holds the name in lowercase: only a mixed-case query needs its bytes back.
  if (caseDiffers) for (let i = HEADER_BYTES; i < nameEnd; i++) out[i] = q[i]!;
  if (qtypeAt) {
    out[qtypeAt] = qtype >> 8;
    out[qtypeAt + 1] = qtype & 0xff;
  }
  if (edns) {
    writeOpt(out, tlen, policy.maxUdp);
    out[11] = out[11]! + 1;
  }
  return out;
}

/** Header + question (+ OPT) with TC set: the client retries over TCP (RFC 7766 §5). */
function truncated(
  flags1: number,
  flags2: number,
  q: Buffer,
  nameEnd: number,
  edns: boolean,
  policy: AnswerPolicy,
  ra: number,
): Buffer {
  const qEnd = nameEnd + 4;
  const out = Buffer.alloc(qEnd + (edns ? OPT_BYTES : 0));
  out[0] = q[0]!;
  out[1] = q[1]!;
  out[2] = flags1 | (Flag.TC >> 8) | (q[2]! & 0x01);
  out[3] = (flags2 & 0x0f) | (q[3]! & 0x10) | ra;
  out[5] = 1;
  q.copy(out, HEADER_BYTES, HEADER_BYTES, qEnd);
  if (edns) {
    writeOpt(out, qEnd, policy.maxUdp);
    out[11] = 1;
  }
  return out;
}

function writeOpt(out: Buffer, at: number, size: number): void {
  out[at] = 0;
  out[at + 1] = 0;
  out[at + 2] = RRType.OPT;
  out[at + 3] = size >> 8;
  out[at + 4] = size & 0xff;
  out.fill(0, at + 5, at + 11);
}

/** Everything `answerFast` declined: full decode and every error path. */
export function answerSlow(
  q: Buffer,
  ip: number | undefined,
  peer: string,
  snapshot: Snapshot,
  policy: AnswerPolicy,
  tcp: boolean,
): Outcome {
  const decoded = decodeMessage(q);
  if (!decoded.ok) {
    // No header, or a response (QR=1): never answer, it could be a reflection loop.
    if (!decoded.header || decoded.header.flags & Flag.QR) return { kind: 'drop', reason: decoded.error };
    return reply(headerOnly(decoded.header.id, decoded.header.flags, Rcode.FORMERR), 'formerr');
  }
  const m = decoded.message;
  if (m.flags & Flag.QR) return { kind: 'drop', reason: 'response sent to the server' };
  const edns = m.edns;
  if (m.opcode !== Opcode.QUERY) {
    // We are the primary: incoming NOTIFY has nothing to tell us; IQUERY/STATUS/UPDATE are not served.
    const rcode = m.opcode === Opcode.NOTIFY ? Rcode.REFUSED : Rcode.NOTIMP;
    return reply(
      simpleResponse(m, rcode, policy, edns !== undefined),
      rcode === Rcode.REFUSED ? 'refused' : 'notimp',
    );
  }
  if (m.questions.length !== 1) return reply(headerOnly(m.id, m.flags, Rcode.FORMERR), 'formerr');
  if (edns && edns.version !== 0) {
    // RFC 6891 §6.1.3: BADVERS (16) = extended rcode 1 in the OPT, 0 in the header.
    const w = new MessageWriter();
    w.header(m.id, responseFlags(m.flags, 0));
    w.question(m.questions[0]!.name, m.questions[0]!.type, m.questions[0]!.class);
    w.opt(policy.maxUdp, Rcode.BADVERS >> 4, 0);
    return reply(w.finish(), 'badvers');
  }
  let key: TsigKey | undefined;
  let requestMac: Buffer | undefined;
  if (m.tsig) {
    const v = verifyRequest(q, m.tsig, policy.tsigKeys, policy.now());
    if (!v.ok) return reply(tsigFailure(m, v.error, v.key, v.requestMac, policy), 'notauth');
    key = v.key;
    requestMac = v.requestMac;
  }
  const sign = (bytes: Buffer): Buffer =>
    key ? signMessage(bytes, key, { requestMac, time: policy.now(), originalId: m.id }).message : bytes;
  const question = m.questions[0]!;
  if (question.class !== RRClass.IN) {
    // CHAOS version.bind/hostname.bind and friends are hidden (spec §4.4).
    return reply(sign(simpleResponse(m, Rcode.REFUSED, policy, edns !== undefined)), 'refused');
  }
  const qtype = question.type;
  if (qtype === RRType.OPT || qtype === RRType.TSIG)
    return reply(sign(simpleResponse(m, Rcode.FORMERR, policy, edns !== undefined)), 'formerr');
  if (qtype === RRType.MAILA || qtype === RRType.MAILB)
    return reply(sign(simpleResponse(m, Rcode.NOTIMP, policy, edns !== undefined)), 'notimp');
  const view = viewFor(snapshot, policy, ip);
  const nameWire = nameToWire(question.name);
  const lower = Buffer.from(nameWire);
  for (let i = 0; i < lower.length; i++) if (lower[i]! >= 65 && lower[i]! <= 90) lower[i] = lower[i]! + 32;
  const key0 = lower.toString('latin1');

  if (qtype === RRType.AXFR || qtype === RRType.IXFR) {
    return transferOutcome(m, qtype, key0, view, ip, peer, key, requestMac, policy, tcp, sign);
  }

  const limit = tcp
    ? TCP_LIMIT
    : edns
      ? Math.max(CLASSIC_UDP_BYTES, Math.min(edns.udpSize, policy.maxUdp))
      : CLASSIC_UDP_BYTES;
  // The question rewritten uncompressed, so the template patching of the fast path applies.
  const flat = flatQuery(m.id, m.flags, nameWire, qtype, edns !== undefined);
  const nameEnd = HEADER_BYTES + nameWire.length;
  const node = view.names.get(key0);
  if (node) {
    let tmpl = positiveAnswer(node, qtype);
    let qtypeAt = 0;
    if (!tmpl) {
      if (qtype === RRType.ANY) tmpl = anyAnswer(node);
      else {
        tmpl = nodataAnswer(node);
        qtypeAt = node.qtypeAt;
      }
    }
    const bytes = finish(
      tmpl,
      0,
      tmpl.length,
      flat,
      nameEnd,
      edns !== undefined,
      key ? TCP_LIMIT : limit,
      policy,
      ip,
      qtypeAt,
      qtype,
    );
    return reply(signFitting(bytes, sign, limit, key !== undefined), qtypeAt ? 'nodata' : 'answer');
  }
  const zone = findZone(view, key0);
  if (zone) {
    const ra = policy.recursion && policy.trusted.has(ip) ? Flag.RA : 0;
    return reply(
      sign(
        negative(
          m.id,
          m.flags,
          nameWire,
          question.name,
          qtype,
          zone,
          Rcode.NXDOMAIN,
          edns !== undefined,
          policy,
          ra,
        ),
      ),
      'nxdomain',
    );
  }
  if (policy.recursion && policy.trusted.has(ip) && m.flags & Flag.RD && !key) {
    return {
      kind: 'forward',
      request: {
        id: m.id,
        flags: m.flags & (Flag.RD | Flag.CD),
        name: question.name,
        nameWire,
        type: qtype,
        class: question.class,
        ednsSize: edns?.udpSize,
        limit,
        key: `${key0}|${qtype}|${question.class}`,
      },
    };
  }
  // Not ours, and no recursion for this client (spec §4.4 MUST refuse).
  return reply(sign(simpleResponse(m, Rcode.REFUSED, policy, edns !== undefined)), 'refused');
}

function reply(bytes: Buffer, label: string): Outcome {
  return { kind: 'reply', bytes, label };
}

/** A signed answer that does not fit is replaced by a signed truncated one (RFC 8945 §5.3.3). */
function signFitting(bytes: Buffer, sign: (b: Buffer) => Buffer, limit: number, signed: boolean): Buffer {
  if (!signed) return bytes;
  const out = sign(bytes);
  if (out.length <= limit) return out;
  const qd = bytes.readUInt16BE(4);
  let pos = HEADER_BYTES;
  for (let i = 0; i < qd; i++) {
    while (bytes[pos] !== 0) pos += bytes[pos]! + 1;
    pos += 5;
  }
  const t = Buffer.from(bytes.subarray(0, pos));
  t[2] = t[2]! | (Flag.TC >> 8);
  t.writeUInt32BE(0, 6);
  t.writeUInt16BE(0, 10);
  return sign(t);
}

/** The query as an uncompressed byte string (question only, optional bare OPT). */
function flatQuery(id: number, flags: number, nameWire: Buffer, qtype: number, edns: boolean): Buffer {
  const out = Buffer.alloc(HEADER_BYTES + nameWire.length + 4 + (edns ? OPT_BYTES : 0));
  out.writeUInt16BE(id, 0);
  out.writeUInt16BE(flags & 0x7fff, 2);
  out[5] = 1;
  nameWire.copy(out, HEADER_BYTES);
  out.writeUInt16BE(qtype, HEADER_BYTES + nameWire.length);
  out.writeUInt16BE(RRClass.IN, HEADER_BYTES + nameWire.length + 2);
  return out;
}

/** Longest zone of `view` containing the lowercase wire name `key`. */
export function findZone(view: CompiledView, key: string): CompiledZone | undefined {
  for (let i = 0; i < key.length; ) {
    const z = view.zones.get(i === 0 ? key : key.slice(i));
    if (z) return z;
    const l = key.charCodeAt(i);
    if (l === 0) break;
    i += l + 1;
  }
  return undefined;
}

function responseFlags(queryFlags: number, rcode: number): number {
  return Flag.QR | (queryFlags & (0x7800 | Flag.RD | Flag.CD)) | rcode;
}

function headerOnly(id: number, flags: number, rcode: number): Buffer {
  const out = Buffer.alloc(HEADER_BYTES);
  out.writeUInt16BE(id, 0);
  out.writeUInt16BE(responseFlags(flags, rcode), 2);
  return out;
}

/** Header + echoed question + OPT when the query had one. */
function simpleResponse(
  m: Message,
  rcode: number,
  policy: AnswerPolicy,
  edns: boolean,
  extraFlags = 0,
): Buffer {
  const w = new MessageWriter();
  w.header(m.id, responseFlags(m.flags, rcode) | extraFlags);
  for (const qq of m.questions) w.question(qq.name, qq.type, qq.class);
  if (edns) w.opt(policy.maxUdp);
  return w.finish();
}

/** NXDOMAIN / NODATA with the zone's SOA in authority (RFC 2308 §3; spec §4.4 TTL 10). */
export function negative(
  id: number,
  flags: number,
  nameWire: Buffer,
  name: string,
  qtype: number,
  zone: CompiledZone,
  rcode: number,
  edns: boolean,
  policy: AnswerPolicy,
  ra: number,
): Buffer {
  const w = new MessageWriter(128);
  w.header(id, responseFlags(flags & ~0x7800, rcode) | Flag.AA | ra);
  w.question(name, qtype, RRClass.IN, nameWire);
  w.record(2, zone.soa);
  if (edns) w.opt(policy.maxUdp);
  return w.finish();
}

/** NOTAUTH with the TSIG error (RFC 8945 §5.2); signed only for BADTIME. */
function tsigFailure(
  m: Message,
  error: number,
  key: TsigKey | undefined,
  requestMac: Buffer,
  policy: AnswerPolicy,
): Buffer {
  const w = new MessageWriter();
  w.header(m.id, responseFlags(m.flags, Rcode.NOTAUTH));
  for (const qq of m.questions) w.question(qq.name, qq.type, qq.class);
  const base = w.finish();
  const now = policy.now();
  if (error === TsigError.BADTIME && key) {
    const other = Buffer.alloc(6);
    other.writeUInt16BE(Math.floor(now / 2 ** 32), 0);
    other.writeUInt32BE(now % 2 ** 32, 2);
    return signMessage(base, key, {
      requestMac,
      time: m.tsig!.timeSigned,
      error,
      otherData: other,
      originalId: m.id,
    }).message;
  }
  return unsignedTsig(base, m.tsig!.keyName, now, m.id, error);
}

function transferOutcome(
  m: Message,
  qtype: number,
  key0: string,
  view: CompiledView,
  ip: number | undefined,
  peer: string,
  key: TsigKey | undefined,
  requestMac: Buffer | undefined,
  policy: AnswerPolicy,
  tcp: boolean,
  sign: (b: Buffer) => Buffer,
): Outcome {
  const edns = m.edns !== undefined;
  if (qtype === RRType.AXFR && !tcp)
    return reply(sign(simpleResponse(m, Rcode.FORMERR, policy, edns)), 'formerr');
  const zone = view.zones.get(key0);
  const allowed = policy.peers.find(
    (p) =>
      p.ip === ip &&
      p.view === view.name &&
      (p.key ? key?.name === p.key.name : true) &&
      (p.zones ? zone !== undefined && p.zones.has(zone.zone.name) : zone?.zone.generated === true),
  );
  // Zone transfers are refused to everyone else (spec §4.4 `allow-transfer { none; }`).
  if (!allowed) return reply(sign(simpleResponse(m, Rcode.REFUSED, policy, edns)), 'refused');
  if (!zone) return reply(sign(simpleResponse(m, Rcode.NOTAUTH, policy, edns)), 'notauth');
  let clientSerial: number | undefined;
  if (qtype === RRType.IXFR) {
    const soa = m.authorities.find((r) => r.type === RRType.SOA);
    if (soa?.data.kind !== 'soa')
      return reply(sign(simpleResponse(m, Rcode.FORMERR, policy, edns)), 'formerr');
    clientSerial = soa.data.serial;
    if (!tcp) {
      // RFC 1995 §2: over UDP, answer with our SOA only; the client then uses TCP.
      const w = new MessageWriter();
      w.header(m.id, responseFlags(m.flags, 0) | Flag.AA);
      w.question(m.questions[0]!.name, qtype, RRClass.IN);
      w.record(1, zone.soa);
      if (edns) w.opt(policy.maxUdp);
      return reply(sign(w.finish()), 'ixfr-udp');
    }
  }
  return {
    kind: 'transfer',
    request: {
      kind: qtype === RRType.AXFR ? 'axfr' : 'ixfr',
      zone,
      view: view.name,
      message: m,
      clientSerial,
      key,
      requestMac,
      peer,
    },
  };
}

export type { NameNode };
