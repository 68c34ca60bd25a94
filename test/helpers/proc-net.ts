/**
 * Counters of /proc/net/snmp and /proc/net/netstat: each protocol is a pair of lines, names then
 * values (`Udp: InDatagrams NoPorts …` / `Udp: 123 4 …`).
 */
export function protoCounters(text: string, proto: string): Record<string, number> {
  const lines = text.split('\n').filter((l) => l.startsWith(`${proto}:`));
  if (lines.length < 2) return {};
  const names = lines[0]!.split(/\s+/).slice(1);
  const values = lines[1]!.split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(names.map((n, i) => [n, values[i]!]));
}
