import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import type { ForwardRequest } from './answer.js';
import { Flag, RRType, Rcode } from './constants.js';
import { type Message, decodeMessage } from './decode.js';
import { MessageWriter } from './encode.js';
import { lowerName } from './names.js';
import type { ResourceRecord } from './records.js';

export interface Upstream {
  host: string;
  port: number;
}

export interface ForwarderOptions {
  timeoutMs: number;
  cacheEntries: number;
  maxTtl: number;
  maxPending: number;
  /** Our EDNS size, sent upstream and advertised to clients. */
  ednsUdpSize: number;
}

interface CachedAnswer {
  expires: number;
  storedAt: number;
  rcode: number;
  flags: number;
  answers: ResourceRecord[];
  authorities: ResourceRecord[];
  additionals: ResourceRecord[];
}

interface Pending {
  resolve: (m: Message | undefined) => void;
  timer: NodeJS.Timeout;
  name: string;
  type: number;
  klass: number;
  upstream: Upstream;
}

export function parseUpstream(s: string): Upstream {
  const [host, port] = s.split(':');
  return { host: host!, port: port ? Number(port) : 53 };
}

/**
 * Forwards trusted clients' out-of-zone questions to the configured resolvers (the original's
 * `forwarders`, spec §4.4), with a small TTL-honouring cache and coalescing of identical
 * questions in flight. Upstream answers are re-encoded (compressed, our ID, our OPT), never
 * relayed byte for byte, and only accepted from the upstream asked, with the ID and question
 * we sent. Truncated upstream answers are retried over TCP.
 */
export class Forwarder {
  private readonly socket: dgram.Socket;
  private readonly pending = new Map<number, Pending>();
  private readonly inflight = new Map<string, Promise<CachedAnswer | undefined>>();
  private readonly cache = new Map<string, CachedAnswer>();
  private readonly ready: Promise<void>;
  private closed = false;

  constructor(
    private readonly upstreams: readonly Upstream[],
    private readonly opts: ForwarderOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.socket = dgram.createSocket('udp4');
    this.socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    this.socket.on('error', () => {});
    this.ready = new Promise((resolve) => this.socket.bind(0, resolve));
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** The response for the client (never rejects: SERVFAIL when every upstream failed). */
  async resolve(req: ForwardRequest): Promise<{ bytes: Buffer; result: 'cache' | 'upstream' | 'servfail' }> {
    const hit = this.cache.get(req.key);
    const t = this.now();
    if (hit && hit.expires > t) {
      // Refresh LRU position.
      this.cache.delete(req.key);
      this.cache.set(req.key, hit);
      return { bytes: this.render(req, hit), result: 'cache' };
    }
    if (hit) this.cache.delete(req.key);
    let p = this.inflight.get(req.key);
    if (!p) {
      if (this.pending.size >= this.opts.maxPending) return { bytes: this.servfail(req), result: 'servfail' };
      p = this.ask(req).finally(() => this.inflight.delete(req.key));
      this.inflight.set(req.key, p);
    }
    const answer = await p;
    if (!answer) return { bytes: this.servfail(req), result: 'servfail' };
    return { bytes: this.render(req, answer), result: 'upstream' };
  }

  private async ask(req: ForwardRequest): Promise<CachedAnswer | undefined> {
    await this.ready;
    for (const upstream of this.upstreams) {
      if (this.closed) return undefined;
      let m = await this.askUdp(req, upstream);
      if (m && m.flags & Flag.TC) m = await this.askTcp(req, upstream);
      if (!m || m.rcode === Rcode.SERVFAIL || m.rcode === Rcode.REFUSED) continue;
      const entry = this.toEntry(m);
      if (this.opts.cacheEntries > 0 && entry.expires > entry.storedAt) {
        if (this.cache.size >= this.opts.cacheEntries) this.cache.delete(this.cache.keys().next().value!);
        this.cache.set(req.key, entry);
      }
      return entry;
    }
    return undefined;
  }

  private query(req: ForwardRequest, id: number): Buffer {
    const w = new MessageWriter();
    w.header(id, Flag.RD | (req.flags & Flag.CD));
    w.question(req.name, req.type, req.class);
    w.opt(this.opts.ednsUdpSize);
    return w.finish();
  }

  private askUdp(req: ForwardRequest, upstream: Upstream): Promise<Message | undefined> {
    let id = randomInt(0, 65536);
    for (let i = 0; i < 8 && this.pending.has(id); i++) id = randomInt(0, 65536);
    if (this.pending.has(id)) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(undefined);
      }, this.opts.timeoutMs);
      this.pending.set(id, {
        resolve,
        timer,
        name: lowerName(req.name),
        type: req.type,
        klass: req.class,
        upstream,
      });
      this.socket.send(this.query(req, id), upstream.port, upstream.host, (err) => {
        if (err) {
          clearTimeout(timer);
          this.pending.delete(id);
          resolve(undefined);
        }
      });
    });
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (msg.length < 12) return;
    const p = this.pending.get(msg.readUInt16BE(0));
    if (!p || rinfo.address !== p.upstream.host || rinfo.port !== p.upstream.port) return;
    const d = decodeMessage(msg);
    if (!d.ok || !(d.message.flags & Flag.QR)) return;
    const q = d.message.questions[0];
    if (!q || lowerName(q.name) !== p.name || q.type !== p.type || q.class !== p.klass) return;
    clearTimeout(p.timer);
    this.pending.delete(d.message.id);
    p.resolve(d.message);
  }

  private askTcp(req: ForwardRequest, upstream: Upstream): Promise<Message | undefined> {
    return new Promise((resolve) => {
      const id = randomInt(0, 65536);
      const body = this.query(req, id);
      const frame = Buffer.alloc(2 + body.length);
      frame.writeUInt16BE(body.length, 0);
      body.copy(frame, 2);
      const sock = net.connect(upstream.port, upstream.host);
      let buf = Buffer.alloc(0);
      const done = (m: Message | undefined) => {
        sock.destroy();
        clearTimeout(timer);
        resolve(m);
      };
      const timer = setTimeout(() => done(undefined), this.opts.timeoutMs);
      sock.on('error', () => done(undefined));
      sock.on('connect', () => sock.write(frame));
      sock.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length > 2 + 65535) return done(undefined);
        if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
        const dec = decodeMessage(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        done(dec.ok && dec.message.id === id ? dec.message : undefined);
      });
    });
  }

  private toEntry(m: Message): CachedAnswer {
    const t = this.now();
    const all = [...m.answers, ...m.authorities, ...m.additionals];
    let ttl = this.opts.maxTtl;
    for (const rr of all) ttl = Math.min(ttl, rr.ttl);
    // RFC 2308 §5: a negative answer is cached for min(SOA TTL, SOA minimum).
    const soa = m.authorities.find((r) => r.type === RRType.SOA);
    if (m.answers.length === 0 && soa?.data.kind === 'soa') ttl = Math.min(ttl, soa.data.minimum);
    if (m.answers.length === 0 && !soa) ttl = 0;
    return {
      storedAt: t,
      expires: t + ttl * 1000,
      rcode: m.rcode,
      flags: m.flags & Flag.AD,
      answers: m.answers,
      authorities: m.authorities,
      additionals: m.additionals,
    };
  }

  private render(req: ForwardRequest, a: CachedAnswer): Buffer {
    const elapsed = Math.floor((this.now() - a.storedAt) / 1000);
    const age = (rr: ResourceRecord): ResourceRecord => ({ ...rr, ttl: Math.max(0, rr.ttl - elapsed) });
    const flags = Flag.QR | Flag.RA | req.flags | a.flags | a.rcode;
    const w = new MessageWriter(512);
    w.header(req.id, flags);
    w.question(req.name, req.type, req.class, req.nameWire);
    for (const rr of a.answers) w.record(1, age(rr));
    for (const rr of a.authorities) w.record(2, age(rr));
    for (const rr of a.additionals) w.record(3, age(rr));
    if (req.ednsSize !== undefined) w.opt(this.opts.ednsUdpSize);
    const out = w.finish();
    if (out.length <= req.limit) return out;
    const t = new MessageWriter();
    t.header(req.id, flags | Flag.TC);
    t.question(req.name, req.type, req.class, req.nameWire);
    if (req.ednsSize !== undefined) t.opt(this.opts.ednsUdpSize);
    return t.finish();
  }

  private servfail(req: ForwardRequest): Buffer {
    const w = new MessageWriter();
    w.header(req.id, Flag.QR | Flag.RA | req.flags | Rcode.SERVFAIL);
    w.question(req.name, req.type, req.class, req.nameWire);
    if (req.ednsSize !== undefined) w.opt(this.opts.ednsUdpSize);
    return w.finish();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.resolve(undefined);
    }
    this.pending.clear();
    this.socket.close();
  }
}
