import t from 'tap';
import fc from 'fast-check';
import { request } from 'undici';
import { T } from '../../src/mdb/tables.js';
import type { Store } from '../../src/store/index.js';
import { startGatehouse } from '../helpers/gatehouse.js';
import { rawCall, rpcCall } from '../rpc/rpc-client.js';

/** Every machine is reachable through both unique indexes and nothing else is indexed. */
function inconsistencies(store: Store): string[] {
  return store.read((tx) => {
    const out: string[] = [];
    const machines = tx.values(T.machines);
    if (tx.count(T.byIp) !== machines.length) out.push('ip index size');
    if (tx.count(T.byMac) !== machines.length) out.push('mac index size');
    for (const m of machines) {
      if (tx.get(T.byIp, m.ip) !== m.hostname || tx.get(T.byMac, m.mac) !== m.hostname)
        out.push(`index mismatch for ${m.hostname}`);
      if (m.mac !== m.mac.toLowerCase()) out.push(`uppercase MAC stored for ${m.hostname}`);
    }
    return out;
  });
}

const anyValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(
    'pas-r01p01',
    'AA:BB:CC:DD:EE:01',
    'aa:bb:cc:dd:ee:02',
    'user',
    'orga',
    'pasteur',
    'Bad_Name',
    'a.b.c',
    '',
    '0',
    'x'.repeat(100),
  ),
);

t.test(
  'random register/query calls: only RPC envelopes, never a crash, indexes stay consistent',
  async (t) => {
    const gh = await startGatehouse(t);
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('register', 'query', 'switches', 'ansible'),
        fc.array(anyValue, { maxLength: 7 }),
        fc.dictionary(
          fc.constantFrom(
            'hostname',
            'mac',
            'rfs',
            'hfs',
            'room',
            'mtype',
            'hostname__regex',
            'rfs__in',
            'aliases__contains',
            'x',
          ),
          anyValue,
          { maxKeys: 6 },
        ),
        async (method, args, kwargs) => {
          const r = await rpcCall(gh.baseUrl, 'mdb', method, { args, kwargs });
          seen.add(`${r.status} ${r.body.exn_type ?? 'result'}`);
          return (
            r.contentType === 'application/json' &&
            (r.status === 200 ? r.body.type === 'result' : r.body.type === 'exception' && r.status === 500)
          );
        },
      ),
      // Valid calls among the random ones every run, so the "some succeed" check below does not
      // depend on chance (150 random calls sometimes held none).
      { numRuns: 150, examples: [['switches', [], {}], ['query', [], {}]] },
    );
    t.ok(seen.has('200 result'), 'valid calls among them were answered');
    t.same(inconsistencies(gh.app.store), [], 'indexes consistent with the machines table');
    const garbage = [
      '',
      '{',
      '[1]',
      '{"args": "abc"}',
      '{"kwargs": 5}',
      '\u0000\u0001',
      'null',
      '{"args": [[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]}',
    ];
    for (const body of garbage) {
      const r = await rawCall(gh.baseUrl, 'mdb', '/call/register', 'POST', body);
      t.equal(r.body.type, 'exception', `body ${JSON.stringify(body)} → ${r.status} ${r.body.exn_type}`);
    }
    t.equal((await rpcCall(gh.baseUrl, 'mdb', 'query')).status, 200, 'still serving');
  },
);

t.test('concurrent registrations of one hostname: exactly one wins, addresses never repeat', async (t) => {
  const gh = await startGatehouse(t);
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      rpcCall(gh.baseUrl, 'mdb', 'register', {
        args: ['same', `aa:bb:cc:dd:ee:${i.toString(16).padStart(2, '0')}`, 0, 0, 'pasteur', 'user'],
      }),
    ),
  );
  t.equal(results.filter((r) => r.status === 200).length, 1);
  t.equal(
    gh.app.store.read((tx) => tx.get(T.pools, 'user'))?.last,
    20,
    'every attempt consumed one address (original semantics)',
  );
  const ips = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      rpcCall(gh.baseUrl, 'mdb', 'register', {
        args: [`m${i}`, `aa:bb:cc:dd:ff:${i.toString(16).padStart(2, '0')}`, 0, 0, 'pasteur', 'user'],
      }),
    ),
  );
  const allocated = ips.map((r) => r.body.data as string);
  t.equal(new Set(allocated).size, 20, 'no address handed out twice');
  t.same(inconsistencies(gh.app.store), [], 'indexes consistent with the machines table');
});

t.test('random admin API bodies: clear 4xx JSON, never a partial write', async (t) => {
  const gh = await startGatehouse(t);
  const auth = {
    authorization: `Bearer ${gh.config.secrets.adminToken}`,
    'content-type': 'application/json',
  };
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom('/api/v1/machines', '/api/v1/switches', '/api/v1/pools', '/api/v1/settings'),
      fc.oneof(
        fc
          .dictionary(
            fc.constantFrom(
              'hostname',
              'mac',
              'ip',
              'rfs',
              'room',
              'mtype',
              'aliases',
              'name',
              'chassis',
              'network',
              'last',
              'key',
              'value_bool',
              'value_int',
            ),
            anyValue,
            { maxKeys: 6 },
          )
          .map((o) => JSON.stringify(o)),
        fc.string({ maxLength: 30 }),
      ),
      async (path, body) => {
        const res = await request(`${gh.baseUrl}${path}`, { method: 'POST', headers: auth, body });
        const text = await res.body.text();
        if (res.statusCode === 201) return true;
        const json = JSON.parse(text) as { error?: unknown; code?: unknown };
        return (
          res.statusCode >= 400 &&
          res.statusCode < 500 &&
          typeof json.error === 'string' &&
          typeof json.code === 'string'
        );
      },
    ),
    { numRuns: 150 },
  );
  t.same(inconsistencies(gh.app.store), [], 'indexes consistent with the machines table');
});
