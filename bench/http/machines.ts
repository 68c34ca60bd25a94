/** The bench's machines: MAC and address of machine `i` (0 ≤ i < 2^16). */
export function benchMac(i: number): string {
  const hex = (i + 0x10000).toString(16).padStart(6, '0');
  return `52:54:00:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`;
}

export function benchIp(i: number): string {
  return `10.1.${Math.floor(i / 256) % 256}.${i % 256}`;
}
