/**
 * `dhcp-agent.ts IFACE [--zero-checksum]`: the DHCP client of a storm as a process of its own,
 * so it can run in a namespace without addresses (see dhcp-client.ts). Reads JSON lines
 * `{"id":1,"mac":"…","kind":"pxe"}` (a DORA) or `{…,"reboot":"10.0.0.5","once":true}` (an
 * INIT-REBOOT REQUEST) on stdin, answers `{"id":1,"result":{…}}` lines on stdout;
 * prints `{"ready":true}` once its sockets are open, and `{"stats":…}` when stdin closes.
 */
import readline from 'node:readline';
import { DhcpClient, type DhcpKind } from './dhcp-client.js';

const iface = process.argv[2];
if (!iface) throw new Error('usage: dhcp-agent.ts IFACE [--zero-checksum]');
const client = new DhcpClient(iface, process.argv.includes('--zero-checksum'));
await client.open();
const write = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
write({ ready: true });
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const req = JSON.parse(line) as {
    id: number;
    mac: string;
    kind: DhcpKind;
    reboot?: string;
    once?: boolean;
  };
  const done = req.reboot
    ? client.reboot(req.mac, req.kind, req.reboot, req.once)
    : client.dora(req.mac, req.kind);
  void done.then((result) => write({ id: req.id, result }));
});
rl.on('close', () => {
  write({ stats: { strayReplies: client.strayReplies, sendErrors: client.sendErrors } });
  client.close();
  process.exit(0);
});
