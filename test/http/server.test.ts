import t from 'tap';
import { request } from 'undici';
import { sendText } from '../../src/http/respond.js';
import { startGatehouse } from '../helpers/gatehouse.js';

t.test('default host serves health, readiness and Prometheus metrics', async (t) => {
  const gh = await startGatehouse(t);
  const health = await request(`${gh.baseUrl}/healthz`);
  t.equal(health.statusCode, 200);
  t.equal(await health.body.text(), 'ok\n');
  const ready = await request(`${gh.baseUrl}/readyz`);
  t.equal(ready.statusCode, 200);
  await ready.body.dump();
  const metrics = await request(`${gh.baseUrl}/metrics`);
  t.equal(metrics.statusCode, 200);
  t.match(String(metrics.headers['content-type']), /^text\/plain/);
  t.match(await metrics.body.text(), /# TYPE gatehouse_http_requests_total counter/);
});

t.test('routes by Host header: bare name, name.domain, with port; unknown hosts go to default', async (t) => {
  const gh = await startGatehouse(t);
  gh.app.http.vhost('mdb', (_req, res, ctx) => sendText(res, 200, `mdb ${ctx.url.pathname}`));
  for (const host of ['mdb', 'MDB', 'mdb.prolo', 'mdb:80', 'mdb.prolo.:8080']) {
    const r = await request(`${gh.baseUrl}/x`, { headers: { host } });
    t.equal(await r.body.text(), 'mdb /x', `Host: ${host}`);
  }
  const other = await request(`${gh.baseUrl}/healthz`, { headers: { host: 'nosuch' } });
  t.equal(await other.body.text(), 'ok\n', 'unknown host → default host');
  const missing = await request(`${gh.baseUrl}/nope`);
  t.equal(missing.statusCode, 404);
  await missing.body.dump();
});

t.test('readyz lists services that are not ready with 503', async (t) => {
  const gh = await startGatehouse(t, {}, [
    () => ({ name: 'slow', start: async () => {}, stop: async () => {}, notReady: () => 'waiting for godot' }),
  ]);
  const r = await request(`${gh.baseUrl}/readyz`);
  t.equal(r.statusCode, 503);
  t.equal(await r.body.text(), 'not ready: slow: waiting for godot\n');
});
