/**
 * The DHCP side of N booting machines in one process: one socket on port 68 receives every
 * broadcast reply (the bench sets the broadcast flag, so servers answer to 255.255.255.255 and
 * the reply is matched by xid and chaddr), and one IPPROTO_RAW socket sends requests from
 * 0.0.0.0 as a ROM does before it has an address. The kernel keeps a zero source only while no
 * interface of the namespace has an address (raw_send_hdrinc fills it in otherwise), so the
 * bench runs this client in a namespace of its own (dhcp-agent.ts); on a spare machine's
 * interface, which holds the leased addresses, `zeroChecksum` sends without a UDP checksum
 * (RFC 768 allows it) so that a server whose kernel checks it still accepts the request.
 *
 * Two kinds of exchange: the PXE ROM's (options 57/60/93/94/97/55, retransmissions after 4, 8,
 * 16 and 32 s — PXE 2.1 §2.2.1) and iPXE's (77 `iPXE`, 175, 61; 1, 2, 4, 8 s).
 */
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import raw, { type RawSocket } from 'raw-socket';
import { BOOTREQUEST, decodePacket, encodePacket, MSG, OPT, type OptionList } from '../../src/dhcp/codec.js';
import { buildIpUdp } from '../../src/dhcp/ip-udp.js';
import { formatIp, IP_ANY, IP_BROADCAST, readIp } from '../../src/dhcp/ipv4.js';
import { encapsulate, ipOpt, textOpt, u8Opt } from '../../src/dhcp/options.js';

export type DhcpKind = 'pxe' | 'ipxe';

/** Seconds to wait after each transmission before sending again; the last one ends the exchange. */
export const SCHEDULES: Record<DhcpKind, readonly number[]> = {
  pxe: [4, 8, 16, 32],
  ipxe: [1, 2, 4, 8],
};

export const PXE_VENDOR_CLASS = 'PXEClient:Arch:00000:UNDI:002001';

export interface Lease {
  ip: string;
  /** Option 54 of the ACK (of the OFFER when the ACK has none). */
  serverId: string;
  /** siaddr, or option 66 when siaddr is zero. */
  nextServer: string;
  /** Option 67, or the `file` field. */
  bootFile: string;
  dns: string | undefined;
}

export type DoraResult =
  | { ok: true; lease: Lease; retransmissions: number; offerMs: number }
  | { ok: false; reason: 'no-offer' | 'no-ack' | 'nak'; retransmissions: number };

function macBytes(mac: string): Buffer {
  return Buffer.concat([Buffer.from(mac.replace(/:/g, ''), 'hex'), Buffer.alloc(10)]);
}

/** The client's SMBIOS UUID (option 97 type 0): derived from the MAC, stable across phases. */
function uuidOf(mac: string): Uint8Array {
  return Uint8Array.of(0, ...crypto.createHash('md5').update(mac).digest());
}

/** What a REQUEST asks for: SELECTING names the server (54), INIT-REBOOT does not. */
interface Requested {
  ip: string;
  serverId: string | undefined;
}

/** The options a BIOS PXE ROM (Intel Boot Agent style) and iPXE's undionly send. */
function requestOptions(kind: DhcpKind, mac: string, type: number, req?: Requested): OptionList {
  const opts: OptionList = [[OPT.MESSAGE_TYPE, u8Opt(type)]];
  if (req) {
    opts.push([OPT.REQUESTED_IP, ipOpt(ipOf(req.ip))]);
    if (req.serverId !== undefined) opts.push([OPT.SERVER_ID, ipOpt(ipOf(req.serverId))]);
  }
  if (kind === 'pxe') {
    opts.push([OPT.MAX_MESSAGE_SIZE, Uint8Array.of(0x04, 0xec)]); // 1260
    opts.push([
      OPT.PARAM_REQUEST_LIST,
      Uint8Array.from([
        1, 2, 3, 5, 6, 11, 12, 13, 15, 16, 17, 18, 43, 54, 60, 67, 128, 129, 130, 131, 132, 133, 134, 135,
      ]),
    ]);
    opts.push([OPT.CLIENT_UUID, uuidOf(mac)]);
    opts.push([OPT.CLIENT_NDI, Uint8Array.of(1, 2, 1)]);
    opts.push([OPT.CLIENT_ARCH, Uint8Array.of(0, 0)]);
    opts.push([OPT.VENDOR_CLASS, textOpt(PXE_VENDOR_CLASS)]);
  } else {
    opts.push([OPT.MAX_MESSAGE_SIZE, Uint8Array.of(0x05, 0xc0)]); // 1472
    opts.push([OPT.CLIENT_ARCH, Uint8Array.of(0, 0)]);
    opts.push([OPT.CLIENT_NDI, Uint8Array.of(1, 2, 1)]);
    opts.push([OPT.VENDOR_CLASS, textOpt(PXE_VENDOR_CLASS)]);
    opts.push([OPT.USER_CLASS, textOpt('iPXE')]);
    opts.push([
      OPT.PARAM_REQUEST_LIST,
      Uint8Array.from([
        1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119, 128, 129, 130, 131, 132, 133, 134, 135, 175, 203,
      ]),
    ]);
    // iPXE's feature flags (175): priority, PXE extensions, HTTP, DNS, TFTP, bzImage, version.
    opts.push([
      OPT.IPXE_ENCAP,
      encapsulate([
        [1, Uint8Array.of(0)],
        [16, Uint8Array.of(1)],
        [19, Uint8Array.of(1)],
        [23, Uint8Array.of(1)],
        [21, Uint8Array.of(1)],
        [24, Uint8Array.of(1)],
        [25, Uint8Array.of(1)],
        [235, Uint8Array.of(1, 21, 1)],
      ]),
    ]);
    opts.push([OPT.CLIENT_ID, Uint8Array.of(1, ...Buffer.from(mac.replace(/:/g, ''), 'hex'))]);
    opts.push([OPT.CLIENT_UUID, uuidOf(mac)]);
  }
  return opts;
}

function ipOf(s: string): number {
  const p = s.split('.').map(Number);
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

interface Pending {
  mac: string;
  chaddr: Buffer;
  kind: DhcpKind;
  expect: 'offer' | 'ack';
  onReply(type: number, packet: ReturnType<typeof decodeReply>): void;
}

function decodeReply(buf: Buffer) {
  const d = decodePacket(buf);
  if (!d.ok || d.packet.op !== 2) return undefined;
  return d.packet;
}

function text(v: Uint8Array | undefined): string | undefined {
  return v ? Buffer.from(v).toString('latin1').replace(/\0+$/, '') : undefined;
}

export class DhcpClient {
  private readonly pending = new Map<number, Pending>();
  private rx: dgram.Socket | undefined;
  private tx: RawSocket | undefined;
  /** Replies that matched no exchange in progress (late duplicates, answers to retransmissions). */
  strayReplies = 0;
  sendErrors = 0;

  constructor(
    private readonly iface: string,
    private readonly zeroChecksum = false,
  ) {}

  async open(recvBufferBytes = 4 * 1024 * 1024): Promise<void> {
    const rx = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    rx.on('message', (msg) => this.onMessage(msg));
    await new Promise<void>((resolve, reject) => {
      rx.once('error', reject);
      rx.bind(68, '0.0.0.0', () => {
        rx.off('error', reject);
        resolve();
      });
    });
    rx.setBroadcast(true);
    try {
      rx.setRecvBufferSize(recvBufferBytes);
    } catch {
      // capped by net.core.rmem_max; the client-side drop counter tells whether that mattered
    }
    this.rx = rx;
    // IPPROTO_RAW (255): send-only, headers are ours (IP_HDRINCL implied), nothing is received.
    const tx = raw.createSocket({ protocol: 255 as unknown as number });
    const dev = Buffer.from(`${this.iface}\0`);
    tx.setOption(raw.SocketLevel.SOL_SOCKET, raw.SocketOption.SO_BINDTODEVICE, dev, dev.length);
    tx.setOption(raw.SocketLevel.SOL_SOCKET, raw.SocketOption.SO_BROADCAST, 1);
    tx.on('error', () => {
      this.sendErrors++;
    });
    this.tx = tx;
  }

  close(): void {
    this.rx?.close();
    this.tx?.close();
  }

  private send(p: Pending, xid: number, type: number, secs: number, req?: Requested): void {
    const bytes = encodePacket({
      op: BOOTREQUEST,
      htype: 1,
      hlen: 6,
      hops: 0,
      xid,
      secs,
      flags: 0x8000,
      ciaddr: IP_ANY,
      yiaddr: 0,
      siaddr: 0,
      giaddr: 0,
      chaddr: p.chaddr,
      sname: '',
      file: '',
      options: requestOptions(p.kind, p.mac, type, req),
    }).bytes;
    const frame = buildIpUdp(IP_ANY, IP_BROADCAST, 68, 67, bytes);
    if (this.zeroChecksum) frame.writeUInt16BE(0, 26);
    this.tx!.send(frame, 0, frame.length, '255.255.255.255', (err) => {
      if (err) this.sendErrors++;
    });
  }

  private onMessage(msg: Buffer): void {
    if (msg.length < 240) return;
    const xid = msg.readUInt32BE(4);
    const p = this.pending.get(xid);
    if (!p) {
      this.strayReplies++;
      return;
    }
    if (!msg.subarray(28, 34).equals(p.chaddr.subarray(0, 6))) return;
    const packet = decodeReply(msg);
    const type = packet?.options.get(OPT.MESSAGE_TYPE)?.[0];
    if (!packet || type === undefined) return;
    p.onReply(type, packet);
  }

  /** DISCOVER → OFFER → REQUEST → ACK with the kind's retransmission schedule. */
  dora(mac: string, kind: DhcpKind): Promise<DoraResult> {
    return this.exchange(mac, kind, undefined, SCHEDULES[kind]);
  }

  /**
   * INIT-REBOOT (RFC 2131 §4.3.2): a broadcast REQUEST for `ip` without a server identifier,
   * answered by ACK or NAK from whichever server holds the lease database. `once`: a single
   * transmission and 1 s to answer (a prober), else the kind's schedule.
   */
  reboot(mac: string, kind: DhcpKind, ip: string, once = false): Promise<DoraResult> {
    return this.exchange(mac, kind, { ip, serverId: undefined }, once ? [1] : SCHEDULES[kind]);
  }

  private exchange(
    mac: string,
    kind: DhcpKind,
    rebooting: Requested | undefined,
    schedule: readonly number[],
  ): Promise<DoraResult> {
    let xid = crypto.randomBytes(4).readUInt32BE(0);
    while (this.pending.has(xid)) xid = (xid + 1) >>> 0;
    const started = performance.now();
    const secs = () => Math.min(0xffff, Math.floor((performance.now() - started) / 1000));
    return new Promise<DoraResult>((resolve) => {
      let retransmissions = 0;
      let attempt = 0;
      let timer: NodeJS.Timeout | undefined;
      let offerMs = 0;
      let request: Requested | undefined = rebooting;
      const p: Pending = {
        mac,
        chaddr: macBytes(mac),
        kind,
        expect: rebooting ? 'ack' : 'offer',
        onReply: (type, packet) => {
          if (!packet) return;
          if (p.expect === 'offer' && type === MSG.OFFER) {
            // The first OFFER wins (a PXE ROM without ProxyDHCP waits no longer for others).
            const serverId = packet.options.get(OPT.SERVER_ID);
            request = {
              ip: formatIp(packet.yiaddr),
              serverId: serverId ? formatIp(readIp(serverId, 0)) : formatIp(packet.siaddr),
            };
            offerMs = performance.now() - started;
            p.expect = 'ack';
            attempt = 0;
            transmit();
            return;
          }
          if (p.expect === 'ack' && type === MSG.NAK)
            return finish({ ok: false, reason: 'nak', retransmissions });
          if (p.expect === 'ack' && type === MSG.ACK) {
            const o = packet.options;
            const siaddr =
              packet.siaddr !== 0 ? formatIp(packet.siaddr) : (text(o.get(OPT.TFTP_SERVER_NAME)) ?? '');
            const dns = o.get(OPT.DNS);
            const ackServerId = o.get(OPT.SERVER_ID);
            finish({
              ok: true,
              retransmissions,
              offerMs,
              lease: {
                ip: formatIp(packet.yiaddr),
                serverId: ackServerId ? formatIp(readIp(ackServerId, 0)) : (request!.serverId ?? ''),
                nextServer: siaddr,
                bootFile: text(o.get(OPT.BOOTFILE_NAME)) ?? packet.file,
                dns: dns ? formatIp(readIp(dns, 0)) : undefined,
              },
            });
          }
        },
      };
      const finish = (r: DoraResult) => {
        if (timer) clearTimeout(timer);
        this.pending.delete(xid);
        resolve(r);
      };
      const transmit = () => {
        if (attempt > 0) retransmissions++;
        if (p.expect === 'offer') this.send(p, xid, MSG.DISCOVER, secs());
        else this.send(p, xid, MSG.REQUEST, secs(), request);
        const wait = schedule[attempt];
        attempt++;
        if (timer) clearTimeout(timer);
        timer = setTimeout(() => {
          if (attempt < schedule.length) transmit();
          else finish({ ok: false, reason: p.expect === 'offer' ? 'no-offer' : 'no-ack', retransmissions });
        }, wait! * 1000);
      };
      this.pending.set(xid, p);
      transmit();
    });
  }
}
