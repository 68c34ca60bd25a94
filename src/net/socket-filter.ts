/**
 * A classic BPF socket filter (SO_ATTACH_FILTER) on a raw socket, from TypeScript: the kernel
 * then queues only the datagrams the program accepts, before they cost a receive buffer slot,
 * a wakeup or a `recv` (issue 13: a raw IPPROTO_UDP socket otherwise gets a copy of every UDP
 * datagram of its interface — a boot storm's TFTP ACKs and DNS queries filled the DHCP socket's
 * queue and its overload guard counted them as DHCP backlog).
 *
 * Why this is not a one-liner: `setsockopt(SO_ATTACH_FILTER)` takes a `struct sock_fprog`
 * { u16 len; struct sock_filter *filter; }, i.e. a pointer to the instructions in our memory,
 * and Node has no API that tells a Buffer's address. raw-socket's `setOption(level, opt, buf,
 * len)` passes a Buffer's bytes as optval, so the struct itself is easy; the address is found
 * by reading our own memory through /proc/self/mem (always allowed for the process itself) for
 * a random 32-byte marker written at the start of an external (never moved) Buffer, confirmed by
 * changing the marker and reading it back at that address. The kernel copies the program at
 * attach time; SO_GET_FILTER then reads back what it holds, which must equal what we meant.
 * It runs once per socket at start (~40 ms) and fails closed: any doubt throws, and the caller
 * keeps its unfiltered path.
 *
 * Codec (program bytes) and I/O (address lookup, attach) are separate functions.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { GatehouseError, errorMessage } from '../errors.js';

const SOL_SOCKET = 1;
const SO_ATTACH_FILTER = 26;
/** SO_GET_FILTER shares the number of SO_ATTACH_FILTER (include/uapi/asm-generic/socket.h). */
const SO_GET_FILTER = 26;

/** One classic BPF instruction: `struct sock_filter` { u16 code; u8 jt; u8 jf; u32 k; }. */
export interface BpfInstruction {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

const BPF = {
  LD_H_ABS: 0x28,
  LD_H_IND: 0x48,
  LDX_B_MSH: 0xb1,
  JSET_K: 0x45,
  JEQ_K: 0x15,
  RET_K: 0x06,
} as const;

/**
 * Accepts IPv4 datagrams (a raw socket's view: offset 0 is the IP header) whose UDP destination
 * port is `port`; drops the rest, including non-first fragments (no UDP header to test).
 */
export function udpDstPortProgram(port: number): BpfInstruction[] {
  return [
    { code: BPF.LD_H_ABS, jt: 0, jf: 0, k: 6 }, // flags + fragment offset
    { code: BPF.JSET_K, jt: 4, jf: 0, k: 0x1fff }, // a later fragment: drop
    { code: BPF.LDX_B_MSH, jt: 0, jf: 0, k: 0 }, // X = IP header length
    { code: BPF.LD_H_IND, jt: 0, jf: 0, k: 2 }, // UDP destination port
    { code: BPF.JEQ_K, jt: 0, jf: 1, k: port },
    { code: BPF.RET_K, jt: 0, jf: 0, k: 0x40000 }, // the whole datagram
    { code: BPF.RET_K, jt: 0, jf: 0, k: 0 },
  ];
}

/** The program as the kernel stores it (native endianness: little-endian hosts only). */
export function encodeProgram(program: readonly BpfInstruction[]): Buffer {
  const out = Buffer.alloc(program.length * 8);
  program.forEach((ins, i) => {
    out.writeUInt16LE(ins.code, i * 8);
    out[i * 8 + 2] = ins.jt;
    out[i * 8 + 3] = ins.jf;
    out.writeUInt32LE(ins.k >>> 0, i * 8 + 4);
  });
  return out;
}

/** What `attachSocketFilter` needs of a socket (raw-socket's Socket has both). */
export interface FilterableSocket {
  setOption(level: number, option: number, value: Buffer, length: number): void;
  getOption(level: number, option: number, value: Buffer, length: number): number;
}

/** Code GH_SOCKET_FILTER: the filter could not be attached; the message says why. */
export class SocketFilterError extends GatehouseError {
  constructor(message: string) {
    super('GH_SOCKET_FILTER', message);
    this.name = 'SocketFilterError';
  }
}

/** `struct sock_fprog` is { u16; 6 bytes padding; pointer } on the 64-bit little-endian ABIs. */
function supported(): string | undefined {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (process.arch !== 'x64' && process.arch !== 'arm64' && process.arch !== 'riscv64')
    return `no sock_fprog layout for ${process.arch}`;
  return undefined;
}

/**
 * Attaches `program` to `socket`; throws SocketFilterError (with the reason) when it cannot be
 * done or the kernel does not hold exactly that program afterwards.
 */
export function attachSocketFilter(socket: FilterableSocket, program: readonly BpfInstruction[]): void {
  const why = supported();
  if (why) throw new SocketFilterError(why);
  const code = encodeProgram(program);
  // Marker first, then the instructions, in one external Buffer (its memory never moves).
  const pinned = Buffer.allocUnsafeSlow(MARKER + code.length);
  code.copy(pinned, MARKER);
  const address = addressOf(pinned);
  const fprog = Buffer.alloc(16);
  fprog.writeUInt16LE(program.length, 0);
  fprog.writeBigUInt64LE(address + BigInt(MARKER), 8);
  try {
    socket.setOption(SOL_SOCKET, SO_ATTACH_FILTER, fprog, fprog.length);
  } catch (e) {
    throw new SocketFilterError(`setsockopt(SO_ATTACH_FILTER) failed: ${errorMessage(e)}`);
  }
  // Read back; the kernel takes the buffer's length in bytes as a count of instructions, which
  // is only ever more than it copies.
  const back = Buffer.alloc(code.length);
  let got: number;
  try {
    got = socket.getOption(SOL_SOCKET, SO_GET_FILTER, back, back.length);
  } catch (e) {
    throw new SocketFilterError(`getsockopt(SO_GET_FILTER) failed: ${errorMessage(e)}`);
  }
  pinned.fill(0); // keep `pinned` alive up to here
  if (got !== program.length || !back.equals(code))
    throw new SocketFilterError('the kernel holds another filter than the one attached');
}

const MARKER = 32;

/**
 * The virtual address of `buf`'s first byte, found in /proc/self/mem (see the module comment).
 * Overwrites its first MARKER bytes.
 */
export function addressOf(buf: Buffer): bigint {
  if (buf.length < MARKER) throw new SocketFilterError('buffer too small to be found');
  crypto.randomFillSync(buf, 0, MARKER);
  const marker = Buffer.from(buf.subarray(0, MARKER));
  let fd: number;
  let maps: string;
  try {
    maps = fs.readFileSync('/proc/self/maps', 'utf8');
    fd = fs.openSync('/proc/self/mem', 'r');
  } catch (e) {
    throw new SocketFilterError(`cannot read /proc/self/mem: ${errorMessage(e)}`);
  }
  try {
    const chunk = Buffer.allocUnsafeSlow(1 << 20);
    const check = Buffer.alloc(MARKER);
    for (const [start, end] of writableRegions(maps)) {
      // Chunks overlap by MARKER - 1 bytes so a marker across a boundary is still seen.
      for (let at = start; at < end; at += BigInt(chunk.length - MARKER + 1)) {
        const want = end - at < BigInt(chunk.length) ? Number(end - at) : chunk.length;
        let n: number;
        try {
          n = fs.readSync(fd, chunk, 0, want, at);
        } catch {
          break; // a guard page or a region unmapped meanwhile
        }
        const view = chunk.subarray(0, n);
        for (let i = view.indexOf(marker); i >= 0; i = view.indexOf(marker, i + 1)) {
          const candidate = at + BigInt(i);
          // A copy of the marker elsewhere would not follow a change made through `buf`.
          buf[0] = buf[0]! ^ 0xff;
          fs.readSync(fd, check, 0, MARKER, candidate);
          const live = check.equals(buf.subarray(0, MARKER));
          buf[0] = buf[0]! ^ 0xff;
          if (live) return candidate;
        }
        if (n < want) break;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  throw new SocketFilterError('the filter buffer was not found in /proc/self/mem');
}

/** Private writable mappings that can hold malloc'd memory: the heap first, then anonymous ones. */
function writableRegions(maps: string): Array<[bigint, bigint]> {
  const heap: Array<[bigint, bigint]> = [];
  const anon: Array<[bigint, bigint]> = [];
  for (const line of maps.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (!m || !m[3]!.startsWith('rw')) continue;
    const name = m[4]!;
    const range: [bigint, bigint] = [BigInt(`0x${m[1]}`), BigInt(`0x${m[2]}`)];
    if (name === '[heap]') heap.push(range);
    else if (name === '' || name.startsWith('[anon')) anon.push(range);
  }
  return [...heap, ...anon];
}
