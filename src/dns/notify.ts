import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import type { Logger } from '../log.js';
import { Flag, Opcode, RRClass, RRType } from './constants.js';
import { decodeMessage } from './decode.js';
import { MessageWriter } from './encode.js';
import { signMessage, type TsigKey, verifyResponse } from './tsig.js';
import { type Zone, zoneSoa } from './zone.js';

export interface NotifyTarget {
  host: string;
  port: number;
  key: TsigKey | undefined;
}

interface Outstanding {
  zone: string;
  serial: number;
  target: NotifyTarget;
  message: Buffer;
  mac: Buffer | undefined;
  attempts: number;
  timer: NodeJS.Timeout;
}

export interface NotifyResult {
  zone: string;
  serial: number;
  target: string;
  result: 'acked' | 'refused' | 'timeout' | 'bad_signature';
  attempts: number;
}

/**
 * NOTIFY (RFC 1996) to secondaries on every serial change: opcode NOTIFY, AA, the zone's SOA
 * in the question and (as a hint) the answer, TSIG-signed when the secondary has a key.
 * Resent every `retryMs` until acknowledged, `retries` times at most; a newer serial for the
 * same zone and target replaces the one still being retried.
 */
export class Notifier {
  private readonly socket = dgram.createSocket('udp4');
  private readonly byId = new Map<number, Outstanding>();
  private readonly byTarget = new Map<string, Outstanding>();
  private readonly ready: Promise<void>;
  private closed = false;

  constructor(
    private readonly opts: { retryMs: number; retries: number },
    private readonly logger: Logger,
    private readonly onResult: (r: NotifyResult) => void = () => {},
    private readonly now: () => number = () => Math.floor(Date.now() / 1000),
  ) {
    this.socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    this.socket.on('error', (e) => this.logger.warn('dns.notify_socket_error', { error: e }));
    this.ready = new Promise((resolve) => this.socket.bind(0, '0.0.0.0', resolve));
  }

  async notify(zone: Zone, target: NotifyTarget): Promise<void> {
    await this.ready;
    if (this.closed) return;
    const tkey = `${zone.view}/${zone.name}@${target.host}:${target.port}`;
    const previous = this.byTarget.get(tkey);
    if (previous) this.finish(previous, undefined);
    let id = randomInt(0, 65536);
    while (this.byId.has(id)) id = randomInt(0, 65536);
    const w = new MessageWriter();
    w.header(id, (Opcode.NOTIFY << 11) | Flag.AA);
    w.question(zone.name, RRType.SOA, RRClass.IN);
    w.record(1, zoneSoa(zone));
    let message = w.finish();
    let mac: Buffer | undefined;
    if (target.key) {
      const s = signMessage(message, target.key, { time: this.now() });
      message = s.message;
      mac = s.mac;
    }
    const o: Outstanding = {
      zone: `${zone.view}/${zone.name}`,
      serial: zone.serial,
      target,
      message,
      mac,
      attempts: 0,
      timer: setTimeout(() => {}, 0),
    };
    this.byId.set(id, o);
    this.byTarget.set(tkey, o);
    this.send(o, id);
  }

  private send(o: Outstanding, id: number): void {
    if (this.closed) return;
    o.attempts++;
    this.socket.send(o.message, o.target.port, o.target.host);
    o.timer = setTimeout(() => {
      if (o.attempts > this.opts.retries) this.finish(o, 'timeout');
      else this.send(o, id);
    }, this.opts.retryMs);
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const d = decodeMessage(msg);
    if (!d.ok) return;
    const o = this.byId.get(d.message.id);
    if (!o || rinfo.address !== o.target.host || rinfo.port !== o.target.port) return;
    if (!(d.message.flags & Flag.QR) || d.message.opcode !== Opcode.NOTIFY) return;
    // A refusal (e.g. NOTAUTH from a secondary not serving the zone) comes unsigned (RFC 8945 §5.3.2).
    if (d.message.rcode !== 0) {
      this.finish(o, 'refused');
      return;
    }
    if (
      o.target.key &&
      (!d.message.tsig || !verifyResponse(msg, d.message.tsig, o.target.key, o.mac!, this.now()))
    ) {
      this.finish(o, 'bad_signature');
      return;
    }
    this.finish(o, 'acked');
  }

  private finish(o: Outstanding, result: NotifyResult['result'] | undefined): void {
    clearTimeout(o.timer);
    for (const [id, v] of this.byId) if (v === o) this.byId.delete(id);
    for (const [k, v] of this.byTarget) if (v === o) this.byTarget.delete(k);
    if (!result) return;
    const r: NotifyResult = {
      zone: o.zone,
      serial: o.serial,
      target: `${o.target.host}:${o.target.port}`,
      result,
      attempts: o.attempts,
    };
    (result === 'acked' ? this.logger.info : this.logger.warn)('dns.notify', { ...r });
    this.onResult(r);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const o of [...this.byId.values()]) this.finish(o, undefined);
    this.socket.close();
  }
}
