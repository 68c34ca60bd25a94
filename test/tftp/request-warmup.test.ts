/**
 * Issue 13: the main thread's request path (RRQ decoding, policy, file cache, hand-off to a
 * worker) is warmed at start by `tftp.warmupRequests` synthetic requests to a throwaway server
 * on 127.0.0.1 (request-warmup.ts). Nothing of it may be seen as a client's request: no log line
 * but `tftp.warmed_up`, no metric, no boot progress entry; 0 turns it off.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { BootService } from '../../src/boot/service.js';
import { tftpGet } from '../../src/tftp/client.js';
import { metric, startTftp, waitFor } from './helpers.js';

const FILE = 'undionly.kpxe';

t.test('the request warm-up leaves no trace: logs, metrics, boot progress', async (t) => {
  const h = await startTftp(t, { workers: 2, warmupRequests: 40 });
  fs.writeFileSync(path.join(h.server.root, FILE), Buffer.alloc(74_000, 7));
  await h.server.warmedUp();
  const logs = h.gh.logs;
  const warmed = logs.filter((l) => l.event === 'tftp.warmed_up');
  t.equal(warmed.length, 1, 'one tftp.warmed_up line');
  t.match(warmed[0], { level: 'info', requests: 40 });
  t.notOk('requestsSkipped' in warmed[0]!, 'the requests over 127.0.0.1 ran');
  t.same(
    logs
      .filter((l) => String(l.event).startsWith('tftp.') && l.event !== 'tftp.warmed_up')
      .map((l) => l.event),
    [],
    'no other tftp line (no transfer, no summary, no failure)',
  );
  const text = await h.metrics();
  t.equal(metric(text, 'gatehouse_tftp_requests_total', { op: 'rrq' }), 0, 'no request counted');
  t.equal(metric(text, 'gatehouse_tftp_transfers_total', { result: 'ok' }), 0, 'no transfer counted');
  t.equal(metric(text, 'gatehouse_tftp_transfers_total', { result: 'client-error' }), 0);
  t.equal(metric(text, 'gatehouse_tftp_sent_bytes_total'), 0, 'no byte counted');
  t.equal(h.server.activeTransfers, 0, 'no slot held');
  const boot = h.gh.app.service<BootService>('boot')!.progress;
  t.equal(boot.size, 0, 'no boot progress entry');
  t.equal(boot.unidentified, 0, 'no unidentified boot event either');

  // The real path still counts what it serves.
  const got = await tftpGet({
    host: '127.0.0.1',
    port: h.port,
    file: FILE,
    options: { blksize: 1456, tsize: 0 },
    // No retransmitted RRQ while the first worker thread loads (tsx: seconds on a busy box).
    timeoutMs: 15_000,
  });
  t.equal(got.bytes, 74_000, 'a real client is served');
  await waitFor(() => logs.some((l) => l.event === 'tftp.transfer'), 5000, 'the transfer line');
  const after = await h.metrics();
  t.equal(
    metric(after, 'gatehouse_tftp_requests_total', { op: 'rrq' }),
    1,
    'exactly the real request counted',
  );
  t.equal(metric(after, 'gatehouse_tftp_transfers_total', { result: 'ok' }), 1, 'and its transfer');
  t.equal(boot.unidentified, 1, 'its completion reported to boot progress (from an address nobody leased)');
});

t.test('tftp.warmupRequests 0: no request warm-up', async (t) => {
  const h = await startTftp(t, { workers: 2, warmupRequests: 0, warmWorkers: 1, warmupTransfers: 8 });
  await h.server.warmedUp();
  const warmed = h.gh.logs.filter((l) => l.event === 'tftp.warmed_up');
  t.equal(warmed.length, 1, 'the transfer warm-up still reports');
  t.notOk('requests' in warmed[0]!, 'no request warm-up ran');
});
