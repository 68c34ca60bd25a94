/**
 * netascii (RFC 1350 §1, after the Telnet NVT of RFC 764): every line ends in CR LF and a bare CR
 * travels as CR NUL. Boot files are served in octet mode; this exists for clients that ask for
 * netascii (tftp-hpa's `ascii` command). The whole file is converted once, so the transfer size
 * is exact and `tsize` can be honest.
 */
const CR = 0x0d;
const LF = 0x0a;

export function toNetascii(src: Uint8Array): Buffer {
  let extra = 0;
  for (let i = 0; i < src.length; i++) if (src[i] === CR || src[i] === LF) extra++;
  if (extra === 0) return Buffer.from(src.buffer, src.byteOffset, src.byteLength);
  const out = Buffer.allocUnsafe(src.length + extra);
  let o = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === LF) {
      out[o++] = CR;
      out[o++] = LF;
    } else if (c === CR) {
      out[o++] = CR;
      out[o++] = 0;
    } else {
      out[o++] = c;
    }
  }
  return out;
}

/** The inverse, for test clients: CR LF -> LF, CR NUL -> CR. A lone trailing CR is kept. */
export function fromNetascii(src: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(src.length);
  let o = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === CR && i + 1 < src.length && (src[i + 1] === LF || src[i + 1] === 0)) {
      out[o++] = src[i + 1] === LF ? LF : CR;
      i++;
    } else {
      out[o++] = c;
    }
  }
  return out.subarray(0, o);
}
