import net from 'node:net';
import t from 'tap';
import { request } from 'undici';
import type { ServiceContext } from '../../src/service.js';
import { SyncHub } from '../../src/sync/hub.js';
import { generateToken } from '../../src/sync/timeauth.js';
import { applyUpdates, parseUpdateList, type SyncKey, type SyncRecord } from '../../src/sync/updates.js';
import { createSyncVhost } from '../../src/sync/vhost.js';
import { startGatehouse } from '../helpers/gatehouse.js';
import { openPoll, pollQuery, postUpdate } from './poll-client.js';

const PUB = 'PUB';
const SUB = 'SUB';

function feed(opts: { maxStreams?: number; maxBufferedBytes?: number; initial?: SyncRecord[] } = {}) {
  const holder: { hub?: SyncHub } = {};
  const factory = (ctx: ServiceContext) => {
    const hub = new SyncHub({ pk: 'k', name: 'testsync', logger: ctx.logger, metrics: ctx.metrics, ...opts });
    hub.replaceAll(opts.initial ?? []);
    holder.hub = hub;
    ctx.http.vhost(
      'testsync',
      createSyncVhost({
        hub,
        pubSecret: () => PUB,
        subSecret: () => SUB,
        timeauthEnabled: () => true,
        allowUpdate: true,
        maxBodyBytes: 64 * 1024,
        logger: ctx.logger,
        metrics: ctx.metrics,
      }),
    );
    return { name: 'testsync', start: async () => {}, stop: async () => hub.close() };
  };
  return { holder, factory };
}

t.test('apply_updates semantics (spec §1.4)', async (t) => {
  const backlog = new Map<SyncKey, SyncRecord>([[1, { k: 1, v: 2, w: 1 }]]);
  t.same([...applyUpdates('k', backlog, [{ type: 'update', data: { k: 1, v: 3, w: 1 } }])], [[1, 'updated']]);
  const watched = applyUpdates(
    'k',
    backlog,
    [{ type: 'update', data: { k: 1, v: 9, w: 1 } }],
    new Set(['w']),
  );
  t.same([...watched], [], 'no watched field changed: no meta, record still replaced');
  t.same(backlog.get(1), { k: 1, v: 9, w: 1 });
  const mixed = applyUpdates('k', backlog, [
    { type: 'update', data: { k: 2 } },
    { type: 'delete', data: { k: 1 } },
    { type: 'delete', data: { k: 'nope' } },
    { type: 'frobnicate', data: { k: 3 } },
    { type: 'update', data: { k: 2, x: 1 } },
  ]);
  t.same(
    [...mixed],
    [
      [2, 'updated'],
      [1, 'deleted'],
    ],
    'later meta of a key overwrites earlier (created → updated); unknown deletes/types give none',
  );
  t.same([...backlog.keys()], [2]);
  t.type(parseUpdateList({}, 'k'), 'string');
  t.type(parseUpdateList([{ type: 'update', data: {} }], 'k'), 'string');
  t.type(parseUpdateList([{ data: { k: 1 } }], 'k'), 'string');
  t.type(parseUpdateList([{ type: 'update', data: { k: [1] } }], 'k'), 'string');
  t.ok(Array.isArray(parseUpdateList([{ type: 'x', data: { k: null } }], 'k')));
});

t.test('/poll: snapshot first, then each published message as one line, at once', async (t) => {
  const { holder, factory } = feed({
    initial: [
      { k: 'b', n: 1 },
      { k: 'a', n: 2 },
    ],
  });
  const gh = await startGatehouse(t, {}, [factory]);
  const s = await openPoll(gh.baseUrl, 'testsync', pollQuery(SUB));
  t.teardown(() => s.close());
  t.equal(s.status, 200);
  t.equal(s.headers['content-type'], 'text/html; charset=UTF-8');
  t.equal(s.headers['transfer-encoding'], 'chunked');
  t.equal(s.headers['x-gatehouse-seq'], '0');
  t.equal(
    await s.next(),
    '[{"type": "update", "data": {"k": "b", "n": 1}}, {"type": "update", "data": {"k": "a", "n": 2}}]',
    'backlog insertion order',
  );
  const started = Date.now();
  holder.hub!.publish([{ type: 'update', data: { k: 'c', n: 3 } }]);
  t.equal(await s.next(1000), '[{"type": "update", "data": {"k": "c", "n": 3}}]');
  t.ok(Date.now() - started < 1000, 'delivered within 1 s');
  t.equal(holder.hub!.subscriberCount, 1);
  await s.close();
  await t.resolves(
    waitFor(() => holder.hub!.subscriberCount === 0),
    'closing the stream unsubscribes',
  );
});

t.test('/poll refusals: bad token 403 at once, missing data/hmac 400, wrong method 405', async (t) => {
  const { factory } = feed();
  const gh = await startGatehouse(t, {}, [factory]);
  const bad = await request(`${gh.baseUrl}/poll${pollQuery(PUB)}`, {
    headers: { host: 'testsync' },
    headersTimeout: 2000,
    bodyTimeout: 2000,
  });
  t.equal(bad.statusCode, 403);
  t.equal(await bad.body.text(), 'Invalid token');
  const expired = `?data=%7B%7D&hmac=${encodeURIComponent(generateToken(SUB, null, Math.floor(Date.now() / 1000) - 200))}`;
  const old = await request(`${gh.baseUrl}/poll${expired}`, { headers: { host: 'testsync' } });
  t.equal(old.statusCode, 403);
  await old.body.dump();
  const noData = await request(`${gh.baseUrl}/poll?hmac=${encodeURIComponent(generateToken(SUB, null))}`, {
    headers: { host: 'testsync' },
  });
  t.equal(noData.statusCode, 400);
  await noData.body.dump();
  const noHmac = await request(`${gh.baseUrl}/poll?data=%7B%7D`, { headers: { host: 'testsync' } });
  t.equal(noHmac.statusCode, 400);
  await noHmac.body.dump();
  const post = await request(`${gh.baseUrl}/poll${pollQuery(SUB)}`, {
    method: 'POST',
    headers: { host: 'testsync' },
    body: '',
  });
  t.equal(post.statusCode, 405);
  await post.body.dump();
  const ping = await request(`${gh.baseUrl}/__ping`, { headers: { host: 'testsync' } });
  t.same([ping.statusCode, await ping.body.text()], [200, 'pong']);
  const threads = await request(`${gh.baseUrl}/__threads`, { headers: { host: 'testsync' } });
  t.match(await threads.body.text(), / threads found/);
  const other = await request(`${gh.baseUrl}/poll/`, { headers: { host: 'testsync' } });
  t.equal(other.statusCode, 404);
  await other.body.dump();
});

t.test('POST /update: pub secret, broadcast unchanged, snapshot includes it; refusals', async (t) => {
  const { holder, factory } = feed({ initial: [{ k: 'a' }] });
  const gh = await startGatehouse(t, {}, [factory]);
  const s = await openPoll(gh.baseUrl, 'testsync', pollQuery(SUB));
  t.teardown(() => s.close());
  await s.next();
  // Spacing of the publisher's JSON is kept byte for byte, and the ignored delete is kept too.
  const data =
    '[{"type":"update","data":{"k":"02:00:00:00:00:01","x":1}}, {"type": "delete", "data": {"k": "ghost"}}]';
  const ok = await postUpdate(gh.baseUrl, 'testsync', data, PUB);
  t.same([ok.status, ok.text], [200, '']);
  t.equal(
    await s.next(1000),
    '[{"type": "update", "data": {"k": "02:00:00:00:00:01", "x": 1}}, {"type": "delete", "data": {"k": "ghost"}}]',
  );
  const fresh = await openPoll(gh.baseUrl, 'testsync', pollQuery(SUB));
  t.teardown(() => fresh.close());
  t.equal(
    await fresh.next(),
    '[{"type": "update", "data": {"k": "a"}}, {"type": "update", "data": {"k": "02:00:00:00:00:01", "x": 1}}]',
  );
  const wrong = await postUpdate(gh.baseUrl, 'testsync', data, SUB);
  t.same([wrong.status, wrong.statusText, wrong.text], [403, 'Invalid token', 'Invalid token']);
  const get = await postUpdate(gh.baseUrl, 'testsync', data, PUB, 'GET');
  t.equal(get.status, 405);
  const badJson = await postUpdate(gh.baseUrl, 'testsync', '[{', PUB);
  t.equal(badJson.status, 500);
  const badShape = await postUpdate(
    gh.baseUrl,
    'testsync',
    '[{"type": "update", "data": {"k": "z"}}, {"type": "update", "data": {}}]',
    PUB,
  );
  t.equal(badShape.status, 500);
  t.notOk(holder.hub!.get('z'), 'a message with one bad entry changes nothing');
  const missing = await request(`${gh.baseUrl}/update`, {
    method: 'POST',
    headers: { host: 'testsync', 'content-type': 'application/x-www-form-urlencoded' },
    body: `data=${encodeURIComponent('[]')}`,
  });
  t.equal(missing.statusCode, 400);
  await missing.body.dump();
  // Tornado strips surrounding whitespace and maps control characters to spaces before the HMAC check.
  const cleaned = '[]';
  const body = new URLSearchParams({
    data: `  ${cleaned}\x01`,
    hmac: ` ${generateToken(PUB, cleaned)} `,
  }).toString();
  const ws = await request(`${gh.baseUrl}/update`, {
    method: 'POST',
    headers: { host: 'testsync', 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  t.equal(ws.statusCode, 200);
  await ws.body.dump();
  t.equal(await s.next(1000), '[]');
  const tooBig = await postUpdate(gh.baseUrl, 'testsync', `[${'"x",'.repeat(20000)}"x"]`, PUB);
  t.equal(tooBig.status, 413);
  t.ok(await s.quiet(200), 'refused updates broadcast nothing');
});

t.test('a subscriber that never reads is disconnected and counted, others keep streaming', async (t) => {
  const { holder, factory } = feed({ maxBufferedBytes: 64 * 1024 });
  const gh = await startGatehouse(t, {}, [factory]);
  // A raw socket that sends the request and never reads the answer.
  const sock = net.connect(gh.app.http.port, '127.0.0.1');
  t.teardown(() => sock.destroy());
  sock.pause();
  await new Promise<void>((r) => sock.once('connect', () => r()));
  sock.write(`GET /poll${pollQuery(SUB)} HTTP/1.1\r\nHost: testsync\r\n\r\n`);
  const good = await openPoll(gh.baseUrl, 'testsync', pollQuery(SUB));
  t.teardown(() => good.close());
  await good.next();
  await waitFor(() => holder.hub!.subscriberCount === 2);
  const big = 'y'.repeat(16 * 1024);
  let received = 0;
  for (let i = 0; i < 400 && holder.hub!.subscriberCount === 2; i++) {
    holder.hub!.publish([{ type: 'update', data: { k: i, big } }]);
    await good.next(2000);
    received++;
    await new Promise((r) => setImmediate(r));
  }
  t.equal(holder.hub!.subscriberCount, 1, 'the stalled reader was dropped');
  t.match(await gh.app.metrics.text(), /gatehouse_sync_slow_subscribers_dropped_total\{feed="testsync"\} 1/);
  holder.hub!.publish([{ type: 'update', data: { k: 'after' } }]);
  t.equal(await good.next(1000), '[{"type": "update", "data": {"k": "after"}}]');
  t.ok(received > 0);
});

t.test('too many streams get 503', async (t) => {
  const { factory } = feed({ maxStreams: 1 });
  const gh = await startGatehouse(t, {}, [factory]);
  const a = await openPoll(gh.baseUrl, 'testsync', pollQuery(SUB));
  t.teardown(() => a.close());
  await a.next();
  const b = await request(`${gh.baseUrl}/poll${pollQuery(SUB)}`, { headers: { host: 'testsync' } });
  t.equal(b.statusCode, 503);
  await b.body.dump();
});

t.test(
  'resume extension: ?since=N&seq=1 gets only later messages when the owner still holds them',
  async (t) => {
    const log: Array<{ seq: number; updates: Array<{ type: string; data: SyncRecord }> }> = [];
    const holder: { hub?: SyncHub } = {};
    const factory = (ctx: ServiceContext) => {
      const hub = new SyncHub({
        pk: 'k',
        name: 'testsync',
        logger: ctx.logger,
        metrics: ctx.metrics,
        resume: (since, upTo) => (since < 1 ? undefined : log.filter((m) => m.seq > since && m.seq <= upTo)),
      });
      holder.hub = hub;
      ctx.http.vhost(
        'testsync',
        createSyncVhost({
          hub,
          pubSecret: () => PUB,
          subSecret: () => SUB,
          timeauthEnabled: () => true,
          allowUpdate: true,
          maxBodyBytes: 4096,
          logger: ctx.logger,
          metrics: ctx.metrics,
        }),
      );
      return undefined;
    };
    const gh = await startGatehouse(t, {}, [factory]);
    const hub = holder.hub!;
    for (let seq = 1; seq <= 3; seq++) {
      const m = { seq, updates: [{ type: 'update', data: { k: `m${seq}` } }] };
      log.push(m);
      hub.publish(m.updates, seq);
    }
    const seqStream = await openPoll(gh.baseUrl, 'testsync', pollQuery(SUB, '&since=1&seq=1'));
    t.teardown(() => seqStream.close());
    t.equal(seqStream.headers['x-gatehouse-seq'], '3');
    t.equal(seqStream.headers['x-gatehouse-resumed'], 'true');
    t.equal(await seqStream.next(), '{"seq": 2, "updates": [{"type": "update", "data": {"k": "m2"}}]}');
    t.equal(await seqStream.next(), '{"seq": 3, "updates": [{"type": "update", "data": {"k": "m3"}}]}');
    log.push({ seq: 4, updates: [{ type: 'delete', data: { k: 'm1' } }] });
    hub.publish(log[3]!.updates, 4);
    t.equal(await seqStream.next(), '{"seq": 4, "updates": [{"type": "delete", "data": {"k": "m1"}}]}');
    const upToDate = await openPoll(gh.baseUrl, 'testsync', pollQuery(SUB, '&since=4&seq=1'));
    t.teardown(() => upToDate.close());
    t.equal(upToDate.headers['x-gatehouse-resumed'], 'true');
    t.ok(await upToDate.quiet(150), 'nothing missed: no line');
    const tooOld = await openPoll(gh.baseUrl, 'testsync', pollQuery(SUB, '&since=0&seq=1'));
    t.teardown(() => tooOld.close());
    t.equal(tooOld.headers['x-gatehouse-resumed'], 'false');
    t.equal(
      await tooOld.next(),
      '{"seq": 4, "updates": [{"type": "update", "data": {"k": "m2"}}, {"type": "update", "data": {"k": "m3"}}]}',
    );
    const future = await openPoll(gh.baseUrl, 'testsync', pollQuery(SUB, '&since=99'));
    t.teardown(() => future.close());
    t.equal(future.headers['x-gatehouse-resumed'], 'false');
    t.equal(
      await future.next(),
      '[{"type": "update", "data": {"k": "m2"}}, {"type": "update", "data": {"k": "m3"}}]',
      'plain lines without seq=1',
    );
    // An external /update is in no log: resuming from before it must fall back to a snapshot.
    t.equal(
      (await postUpdate(gh.baseUrl, 'testsync', '[{"type": "update", "data": {"k": "ext"}}]', PUB)).status,
      200,
    );
    const afterExt = await openPoll(gh.baseUrl, 'testsync', pollQuery(SUB, '&since=4&seq=1'));
    t.teardown(() => afterExt.close());
    t.equal(afterExt.headers['x-gatehouse-resumed'], 'false');
    t.match(await afterExt.next(), /"k": "ext"/);
  },
);

async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
