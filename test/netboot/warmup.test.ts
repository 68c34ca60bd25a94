/**
 * Issue 13: the netboot HTTP path (node:http, HttpServer.dispatch, the netboot handler) must
 * be compiled before the first boot storm, not by TurboFan on the storm's CPU. At start,
 * `http.warmupExchanges` iPXE exchanges run over 127.0.0.1 through throwaway netboot hosts
 * built from the production classes: nothing of them is logged (but one `http.warmed_up`
 * line), counted, recorded as boot progress or stored, and their listeners are closed; the real
 * listener treats every request as before.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { BOOT_SERVICE, type BootService } from '../../src/boot/service.js';
import { ipxeExchange } from '../../src/http/netboot/warmup.js';
import { HTTP_WARMUP_SERVICE, type HttpWarmupService } from '../../src/http/netboot/warmup-service.js';
import { machinesTable } from '../../src/mdb/model.js';
import { startGatehouse } from '../helpers/gatehouse.js';
import { tempDir } from '../helpers/tmp.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Sample lines of `name` in a Prometheus text exposition. */
function samples(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

/** The http.Server instances listening in this process (the real one and any left over). */
function httpServers(): http.Server[] {
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  return handles.filter((h): h is http.Server => h instanceof http.Server && h.listening);
}

t.test(
  'the warm-up leaves no trace: no log line but its own, no metric, no boot progress, no store write',
  async (t) => {
    const accessLog = path.join(tempDir(t, 'ghhw-'), 'access.log');
    const gh = await startGatehouse(t, {
      http: { warmupExchanges: 60, accessLog: { enabled: true, path: accessLog } },
    });
    const warmup = gh.app.service<HttpWarmupService>(HTTP_WARMUP_SERVICE);
    t.ok(warmup, 'the warm-up runs when http.warmupExchanges > 0');
    await warmup!.warmedUp();

    const warmed = gh.logs.filter((l) => l.event === 'http.warmed_up');
    t.equal(warmed.length, 1, 'one http.warmed_up line');
    t.match(warmed[0], { level: 'info', exchanges: 60, requests: 120, warmupMs: Number });
    t.notOk(
      gh.logs.some((l) => l.event === 'http.warmup_failed'),
      'no failure',
    );
    t.same(
      gh.logs.filter((l) => String(l.event).startsWith('netboot.') || String(l.event).startsWith('boot.')),
      [],
      'no netboot or boot line',
    );
    t.equal(
      gh.logs.filter((l) => l.event === 'http.listening').length,
      1,
      'only the real listener was announced',
    );
    t.equal(
      fs.existsSync(accessLog) ? fs.readFileSync(accessLog, 'utf8') : '',
      '',
      'nothing in the access log',
    );
    const metrics = await gh.app.metrics.text();
    t.same(samples(metrics, 'gatehouse_netboot_requests_total'), [], 'no netboot request counted');
    t.same(samples(metrics, 'gatehouse_http_requests_total'), [], 'no HTTP request counted');
    const progress = gh.app.service<BootService>(BOOT_SERVICE)!.progress;
    t.equal(progress.size, 0, 'no boot-progress entry');
    const store = gh.app.store;
    t.equal(store.read((tx) => tx.values(machinesTable(store))).length, 0, 'no machine registered');
    t.same(
      httpServers().map((s) => (s.address() as { port: number }).port),
      [gh.app.http.port],
      'the warm-up listeners are closed; the real one listens',
    );

    // The same exchange on the real listener is logged, counted and recorded as any request.
    await ipxeExchange(gh.app.http.port, 0);
    await new Promise((r) => setTimeout(r, 50));
    t.equal(fs.readFileSync(accessLog, 'utf8').trim().split('\n').length, 2, 'two access-log lines');
    t.equal(gh.logs.filter((l) => l.event === 'netboot.request').length, 2, 'two netboot.request lines');
    const after = await gh.app.metrics.text();
    t.equal(samples(after, 'gatehouse_netboot_requests_total').length, 2, 'bootstrap and boot counted');
    t.equal(progress.size, 1, 'the machine is in the boot progress');
  },
);

t.test('http.warmupExchanges: 0, or netboot off, runs no warm-up', async (t) => {
  for (const overrides of [
    { http: { warmupExchanges: 0 } },
    { http: { warmupExchanges: 20 }, netboot: { enabled: false } },
  ]) {
    const gh = await startGatehouse(t, overrides);
    t.equal(
      gh.app.service(HTTP_WARMUP_SERVICE),
      undefined,
      `no warm-up service: ${JSON.stringify(overrides)}`,
    );
    await new Promise((r) => setTimeout(r, 100));
    t.notOk(
      gh.logs.some((l) => String(l.event).startsWith('http.warm')),
      'no warm-up line',
    );
    t.equal(httpServers().length, 1, 'one listener');
    await gh.app.stop();
  }
});

t.test('stopping during the warm-up ends it at once and closes its listeners', async (t) => {
  const gh = await startGatehouse(t, { http: { warmupExchanges: 100_000 } });
  await new Promise((r) => setTimeout(r, 200));
  const t0 = performance.now();
  await gh.app.stop();
  t.ok(performance.now() - t0 < 10_000, 'stop did not wait for 100 000 exchanges');
  const warmed = gh.logs.find((l) => l.event === 'http.warmed_up');
  t.ok(warmed && Number(warmed.exchanges) < 100_000, 'the warm-up stopped early');
  t.equal(httpServers().length, 0, 'no listener left');
});

t.test('after start, V8 has compiled HttpServer.dispatch with TurboFan before any real request', (t) => {
  // A child process: --allow-natives-syntax for %GetOptimizationStatus, and V8 state of its own.
  execFile(
    process.execPath,
    ['--allow-natives-syntax', '--import', 'tsx', path.join(here, 'fixtures', 'warmup-child.ts')],
    { timeout: 120_000 },
    (error, stdout, stderr) => {
      t.error(error, stderr);
      const out = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
        warmed: Record<string, unknown> | null;
        dispatch: number;
      };
      t.match(out.warmed, { event: 'http.warmed_up' }, 'the default config warms up');
      // V8's OptimizationStatus bits (runtime-test.cc): 1 << 4 optimised, 1 << 6 by TurboFan.
      t.equal(out.dispatch & (1 << 4), 1 << 4, `dispatch is optimised (status ${out.dispatch.toString(2)})`);
      t.equal(out.dispatch & (1 << 6), 1 << 6, 'by TurboFan');
      t.end();
    },
  );
});
