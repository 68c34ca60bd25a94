/**
 * The text the kernel's LOG target wrote for the original rule 11.1-1
 * (`Prologin outgoing connection IN=lan OUT=uplink SRC=… DST=… LEN=… … PROTO=TCP SPT=… DPT=…`),
 * rebuilt from an nflog packet so operators keep grepping the same fields. Pure: bytes in,
 * text out; a truncated or non-IPv4 payload gives what can be read.
 */
export interface LoggedPacketInfo {
  src?: string;
  dst?: string;
  proto?: number;
  sport?: number;
  dport?: number;
}

function ip4(b: Buffer, off: number): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

export function parseIpv4(payload: Buffer): { fields: string[]; info: LoggedPacketInfo } {
  if (payload.length < 20 || payload[0]! >> 4 !== 4) return { fields: [`LEN=${payload.length}`], info: {} };
  const ihl = (payload[0]! & 0x0f) * 4;
  const tos = payload[1]!;
  const len = payload.readUInt16BE(2);
  const id = payload.readUInt16BE(4);
  const frag = payload.readUInt16BE(6);
  const ttl = payload[8]!;
  const proto = payload[9]!;
  const src = ip4(payload, 12);
  const dst = ip4(payload, 16);
  const fields = [
    `SRC=${src}`,
    `DST=${dst}`,
    `LEN=${len}`,
    `TOS=0x${(tos & 0x1e).toString(16).padStart(2, '0').toUpperCase()}`,
    `PREC=0x${(tos & 0xe0).toString(16).padStart(2, '0').toUpperCase()}`,
    `TTL=${ttl}`,
    `ID=${id}`,
  ];
  if (frag & 0x4000) fields.push('DF');
  const info: LoggedPacketInfo = { src, dst, proto };
  const l4 = payload.subarray(ihl);
  if (proto === 6 || proto === 17) {
    fields.push(`PROTO=${proto === 6 ? 'TCP' : 'UDP'}`);
    if (l4.length >= 4) {
      info.sport = l4.readUInt16BE(0);
      info.dport = l4.readUInt16BE(2);
      fields.push(`SPT=${info.sport}`, `DPT=${info.dport}`);
    }
    if (proto === 6 && l4.length >= 14) {
      const flags = l4[13]!;
      const names: Array<[number, string]> = [
        [0x20, 'URG'],
        [0x10, 'ACK'],
        [0x08, 'PSH'],
        [0x04, 'RST'],
        [0x02, 'SYN'],
        [0x01, 'FIN'],
      ];
      for (const [bit, n] of names) if (flags & bit) fields.push(n);
    }
  } else if (proto === 1) {
    fields.push('PROTO=ICMP');
    if (l4.length >= 2) fields.push(`TYPE=${l4[0]}`, `CODE=${l4[1]}`);
    if (l4.length >= 8 && (l4[0] === 0 || l4[0] === 8))
      fields.push(`ID=${l4.readUInt16BE(4)}`, `SEQ=${l4.readUInt16BE(6)}`);
  } else {
    fields.push(`PROTO=${proto}`);
  }
  return { fields, info };
}

/** `<prefix>IN=<in> OUT=<out> SRC=…`, the kernel LOG layout (the prefix carries its own trailing space). */
export function kernelLogText(
  prefix: string,
  inName: string | undefined,
  outName: string | undefined,
  payload: Buffer,
): { text: string; info: LoggedPacketInfo } {
  const { fields, info } = parseIpv4(payload);
  return { text: `${prefix}IN=${inName ?? ''} OUT=${outName ?? ''} ${fields.join(' ')}`, info };
}
