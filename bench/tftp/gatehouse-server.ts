/**
 * The Gatehouse TFTP server alone in its own process (same TftpServer the appliance runs, no
 * HTTP or other services), so the bench can measure its CPU time and peak RSS apart from the
 * clients. `gatehouse-server.ts ROOT [CONFIG_JSON]`: CONFIG_JSON overrides `tftp:` keys (e.g.
 * `{"workers":1}`); without it the appliance defaults apply. Prints `{"port":N}` once listening;
 * on SIGUSR2 prints `{"sentBytes":N,"retransmittedBlocks":N,"transfers":N}`; stops on SIGTERM.
 */
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics.js';
import { tftpConfigSchema } from '../../src/tftp/config.js';
import { TftpServer } from '../../src/tftp/server.js';

const root = process.argv[2];
if (!root) throw new Error('usage: gatehouse-server.ts ROOT [CONFIG_JSON]');
const overrides = JSON.parse(process.argv[3] ?? '{}') as Record<string, unknown>;
// All bench clients come from 127.0.0.1: lift the per-client limit that protects a real LAN.
const config = tftpConfigSchema.parse({
  root,
  listen: ['127.0.0.1:0'],
  maxTransfersPerClient: 10_000,
  maxTransfers: 10_000,
  ...overrides,
});
const metrics = new Metrics();
// One info line per transfer, as in production (stderr is discarded by the runner).
const server = new TftpServer(config, createLogger({ level: 'info' }), metrics);
await server.start();
process.stdout.write(`${JSON.stringify({ port: server.addresses()[0]!.port })}\n`);
process.on('SIGUSR2', () => {
  void metrics.text().then((text) => {
    const sum = (name: string) =>
      text
        .split('\n')
        .filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
        .reduce((s, l) => s + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    process.stdout.write(
      `${JSON.stringify({
        sentBytes: sum('gatehouse_tftp_sent_bytes_total'),
        retransmittedBlocks: sum('gatehouse_tftp_retransmitted_blocks_total'),
        transfers: sum('gatehouse_tftp_transfers_total'),
      })}\n`,
    );
  });
});
process.on('SIGTERM', () => {
  void server.stop().then(() => process.exit(0));
});
