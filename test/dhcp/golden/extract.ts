/**
 * Turns the pcaps written by capture.sh into one hex fixture per DHCP payload:
 * `<capture>-<n>-<message type>.hex`. Run once: `node --import tsx test/dhcp/golden/extract.ts /tmp/ghdh-capture`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = ['', 'discover', 'offer', 'request', 'decline', 'ack', 'nak', 'release', 'inform'];
const dir = process.argv[2] ?? '/tmp/ghdh-capture';
const out = path.dirname(fileURLToPath(import.meta.url));

// `npx tap test/dhcp/` runs every file of the folder, this script included: without captures
// (and without an explicit directory) there is nothing to do, which is not a failure.
if (process.argv[2] === undefined && !fs.existsSync(dir)) {
  console.error(`extract: no captures in ${dir}; run capture.sh first or pass the capture directory`);
  process.exit(0);
}

for (const file of fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.pcap'))
  .sort()) {
  const buf = fs.readFileSync(path.join(dir, file));
  if (buf.readUInt32LE(0) !== 0xa1b2c3d4 || buf.readUInt32LE(20) !== 1)
    throw new Error(`${file}: expected a little-endian Ethernet pcap`);
  let off = 24;
  let n = 0;
  while (off + 16 <= buf.length) {
    const caplen = buf.readUInt32LE(off + 8);
    const frame = buf.subarray(off + 16, off + 16 + caplen);
    off += 16 + caplen;
    if (frame.readUInt16BE(12) !== 0x0800) continue;
    const ip = frame.subarray(14);
    const ihl = (ip[0]! & 0x0f) * 4;
    if (ip[9] !== 17) continue;
    const udp = ip.subarray(ihl);
    const payload = udp.subarray(8, udp.readUInt16BE(4));
    // Message type: first option 53 after the magic cookie (good enough for naming fixtures).
    let type = 'bootp';
    for (let i = 240; i < payload.length - 2; ) {
      const code = payload[i]!;
      if (code === 0) {
        i++;
        continue;
      }
      if (code === 255) break;
      if (code === 53) {
        type = TYPES[payload[i + 2]!] ?? 'unknown';
        break;
      }
      i += 2 + payload[i + 1]!;
    }
    n++;
    const name = `${path.basename(file, '.pcap')}-${n}-${type}.hex`;
    const hex = payload
      .toString('hex')
      .replace(/(.{64})/g, '$1\n')
      .trim();
    fs.writeFileSync(path.join(out, name), hex + '\n');
    console.log(name, payload.length);
  }
}
