/**
 * The Gatehouse TFTP server alone in its own process (same TftpServer the appliance runs, no
 * HTTP or other services), so the bench can measure its CPU time and peak RSS apart from the
 * clients. Prints `{"port":N}` once listening; stops on SIGTERM.
 */
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics.js';
import { tftpConfigSchema } from '../../src/tftp/config.js';
import { TftpServer } from '../../src/tftp/server.js';

const root = process.argv[2];
if (!root) throw new Error('usage: gatehouse-server.ts ROOT');
// All bench clients come from 127.0.0.1: lift the per-client limit that protects a real LAN.
const config = tftpConfigSchema.parse({
  root,
  listen: ['127.0.0.1:0'],
  maxTransfersPerClient: 10_000,
  maxTransfers: 10_000,
});
// One info line per transfer, as in production (stderr is discarded by the runner).
const server = new TftpServer(config, createLogger({ level: 'info' }), new Metrics());
await server.start();
process.stdout.write(`${JSON.stringify({ port: server.addresses()[0]!.port })}\n`);
process.on('SIGTERM', () => {
  void server.stop().then(() => process.exit(0));
});
