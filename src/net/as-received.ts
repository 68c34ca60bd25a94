/**
 * A copy of `packet` shaped like the Buffers Node's UDP receive path makes: a Uint8Array given
 * Buffer's prototype in C++, not a `FastBuffer`. The start-up warm-ups feed these to code that
 * real datagrams reach, so V8 compiles it for the object shape real traffic brings.
 */
export function asReceived(packet: Buffer): Buffer {
  const u = new Uint8Array(packet.length);
  u.set(packet);
  return Object.setPrototypeOf(u, Buffer.prototype) as Buffer;
}
