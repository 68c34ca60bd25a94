import t from 'tap';
import { RpcException } from '../../src/rpc/errors.js';
import { bindArgs } from '../../src/rpc/args.js';
import { type RpcMethod, createRpcHandler } from '../../src/rpc/server.js';
import type { ServiceContext } from '../../src/service.js';
import { generateToken } from '../../src/sync/timeauth.js';
import { startGatehouse } from '../helpers/gatehouse.js';
import { rawCall, rpcCall } from './rpc-client.js';

/** The test application of the original `prologin/tests/rpc_test.py` (spec §14). */
const methods: Record<string, RpcMethod> = {
  return_number: { auth: true, call: () => 42 },
  return_string: { auth: true, call: () => 'prologin' },
  return_list: { auth: true, call: () => [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] },
  echo: {
    auth: true,
    call: (args, kwargs) => bindArgs({ name: 'echo', params: ['obj'] }, args, kwargs).values.obj,
  },
  return_args_kwargs: {
    auth: true,
    call: (args, kwargs) => {
      const { values } = bindArgs(
        {
          name: 'return_args_kwargs',
          params: ['arg1', 'arg2', 'kw1', 'kw2'],
          defaults: { kw1: null, kw2: null },
        },
        args,
        kwargs,
      );
      return [[values.arg1, values.arg2], { kw1: values.kw1, kw2: values.kw2 }];
    },
  },
  raise_value_error: {
    auth: true,
    call: () => {
      throw new RpcException('ValueError', 'Monde de merde.');
    },
  },
  hello: { auth: false, call: () => 'world' },
  not_json: { auth: false, call: () => ({ f: () => 1 }) },
  crash: {
    auth: false,
    call: () => {
      throw new Error('unexpected');
    },
  },
};

let timeauth = true;
function rpcApps(ctx: ServiceContext) {
  const common = {
    methods,
    timeauthEnabled: () => timeauth,
    logger: ctx.logger,
    metrics: ctx.metrics,
    maxBodyBytes: 4096,
  };
  ctx.http.vhost('rpcsecret', createRpcHandler({ ...common, secret: 'secret42', name: 'rpcsecret' }));
  ctx.http.vhost('rpcopen', createRpcHandler({ ...common, name: 'rpcopen' }));
  return undefined;
}

t.test('results, the JSON envelope and the exact content type', async (t) => {
  const gh = await startGatehouse(t, {}, [rpcApps]);
  const r = await rpcCall(gh.baseUrl, 'rpcopen', 'return_number');
  t.equal(r.status, 200);
  t.equal(
    r.contentType,
    'application/json',
    'no charset parameter (the legacy client compares for equality)',
  );
  t.equal(r.text, '{"type": "result", "data": 42}\n');
  t.same((await rpcCall(gh.baseUrl, 'rpcopen', 'return_string')).body.data, 'prologin');
  t.same((await rpcCall(gh.baseUrl, 'rpcopen', 'return_list')).body.data, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const nested = { a: [1, { b: 'c', d: [true, null] }], é: 'ü' };
  const echo = await rpcCall(gh.baseUrl, 'rpcopen', 'echo', { args: [nested] });
  t.same(echo.body.data, nested);
  t.match(echo.text, /\\u00e9/, 'non-ASCII escaped like Python');
  t.same(
    (await rpcCall(gh.baseUrl, 'rpcopen', 'return_args_kwargs', { args: [1, 2], kwargs: { kw1: 3, kw2: 4 } }))
      .body.data,
    [[1, 2], { kw1: 3, kw2: 4 }],
  );
});

t.test(
  'errors: MethodError 404, remote exceptions 500, TypeError for bad arguments (scenario 2)',
  async (t) => {
    const gh = await startGatehouse(t, {}, [rpcApps]);
    const nosuch = await rawCall(gh.baseUrl, 'rpcopen', '/call/nosuch', 'POST', '{}');
    t.equal(nosuch.status, 404);
    t.equal(nosuch.contentType, 'application/json');
    t.equal(
      nosuch.text,
      '{"type": "exception", "exn_type": "MethodError", "exn_message": "nosuch", "exn_traceback": []}\n',
    );
    const ve = await rpcCall(gh.baseUrl, 'rpcopen', 'raise_value_error');
    t.equal(ve.status, 500);
    t.same([ve.body.exn_type, ve.body.exn_message], ['ValueError', 'Monde de merde.']);
    const te = await rpcCall(gh.baseUrl, 'rpcopen', 'echo', { kwargs: { nope: 1 } });
    t.equal(te.status, 500);
    t.same(
      [te.body.exn_type, te.body.exn_message],
      ['TypeError', "echo() got an unexpected keyword argument 'nope'"],
    );
    const many = await rpcCall(gh.baseUrl, 'rpcopen', 'echo', { args: [1, 2] });
    t.equal(many.body.exn_message, 'echo() takes 2 positional arguments but 3 were given');
    const missing = await rpcCall(gh.baseUrl, 'rpcopen', 'echo');
    t.equal(missing.body.exn_message, "echo() missing 1 required positional argument: 'obj'");
    const notJson = await rpcCall(gh.baseUrl, 'rpcopen', 'not_json');
    t.same(
      [notJson.status, notJson.body.exn_type, notJson.body.exn_message],
      [500, 'ValueError', 'The remote method returned something not JSON'],
    );
    const crash = await rpcCall(gh.baseUrl, 'rpcopen', 'crash');
    t.same([crash.status, crash.body.exn_type], [500, 'Exception']);
    t.ok(
      gh.logs.some((l) => l.event === 'rpc.method_failed'),
      'unexpected failures are logged',
    );
  },
);

t.test('request decoding: any method, body only for POST, malformed and oversize bodies', async (t) => {
  const gh = await startGatehouse(t, {}, [rpcApps]);
  for (const m of ['GET', 'PUT', 'DELETE']) {
    const r = await rawCall(
      gh.baseUrl,
      'rpcopen',
      '/call/return_number',
      m,
      m === 'GET' ? undefined : 'garbage',
    );
    t.equal(r.status, 200, `${m} accepted; its body is not read`);
  }
  const qs = await rawCall(gh.baseUrl, 'rpcopen', '/call/echo?obj=1', 'GET');
  t.equal(qs.body.exn_type, 'TypeError', 'query string ignored');
  const bad = await rawCall(gh.baseUrl, 'rpcopen', '/call/return_number', 'POST', '{"args": [');
  t.same([bad.status, bad.body.exn_type, bad.contentType], [500, 'JSONDecodeError', 'application/json']);
  const empty = await rawCall(gh.baseUrl, 'rpcopen', '/call/return_number', 'POST', '');
  t.same([empty.status, empty.body.exn_type], [500, 'JSONDecodeError']);
  const badUtf8 = await rawCall(
    gh.baseUrl,
    'rpcopen',
    '/call/return_number',
    'POST',
    Buffer.from([0x7b, 0xff, 0x7d]),
  );
  t.same([badUtf8.status, badUtf8.body.exn_type], [500, 'JSONDecodeError']);
  const list = await rawCall(gh.baseUrl, 'rpcopen', '/call/return_number', 'POST', '[1]');
  t.same([list.status, list.body.exn_type], [500, 'TypeError']);
  const argsNotList = await rawCall(gh.baseUrl, 'rpcopen', '/call/echo', 'POST', '{"args": 5}');
  t.same([argsNotList.status, argsNotList.body.exn_type], [500, 'TypeError']);
  const kwNotDict = await rawCall(gh.baseUrl, 'rpcopen', '/call/echo', 'POST', '{"kwargs": [1]}');
  t.same([kwNotDict.status, kwNotDict.body.exn_type], [500, 'TypeError']);
  const huge = await rawCall(
    gh.baseUrl,
    'rpcopen',
    '/call/echo',
    'POST',
    JSON.stringify({ args: ['x'.repeat(10000)] }),
  );
  t.equal(huge.status, 413);
  t.equal(huge.body.type, 'exception');
  const slash = await rawCall(gh.baseUrl, 'rpcopen', '/call/return_number/', 'GET');
  t.equal(slash.status, 404, 'a trailing slash is not an RPC call');
  t.equal(slash.body.type, 'not-json');
  const proto = await rawCall(gh.baseUrl, 'rpcopen', '/call/__proto__', 'POST', '{}');
  t.same([proto.status, proto.body.exn_type], [404, 'MethodError']);
  const after = await rpcCall(gh.baseUrl, 'rpcopen', 'return_number');
  t.equal(after.status, 200, 'still serving');
});

t.test(
  'secret-protected app: good / bad / missing / expired tokens; public methods (scenarios 5-7 shape)',
  async (t) => {
    const gh = await startGatehouse(t, {}, [rpcApps]);
    timeauth = true;
    t.teardown(() => {
      timeauth = true;
    });
    const good = await rpcCall(gh.baseUrl, 'rpcsecret', 'return_number', { secret: 'secret42' });
    t.same([good.status, good.body.data], [200, 42]);
    const bad = await rpcCall(gh.baseUrl, 'rpcsecret', 'return_number', { secret: 'wrong' });
    t.equal(bad.status, 403);
    t.equal(
      bad.text,
      '{"type": "exception", "exn_type": "BadToken", "exn_message": "return_number", "exn_traceback": []}\n',
    );
    const none = await rpcCall(gh.baseUrl, 'rpcsecret', 'return_number');
    t.same([none.status, none.body.exn_type, none.body.exn_message], [400, 'MissingToken', 'return_number']);
    const emptyTok = await rpcCall(gh.baseUrl, 'rpcsecret', 'return_number', { hmac: '' });
    t.equal(emptyTok.body.exn_type, 'MissingToken');
    const now = Math.floor(Date.now() / 1000);
    const old = await rpcCall(gh.baseUrl, 'rpcsecret', 'return_number', {
      secret: 'secret42',
      ts: now - 125,
    });
    t.same([old.status, old.body.exn_type], [403, 'BadToken'], '125 s old');
    const recent = await rpcCall(gh.baseUrl, 'rpcsecret', 'return_number', {
      secret: 'secret42',
      ts: now - 110,
    });
    t.equal(recent.status, 200, '110 s old');
    const otherMethod = await rpcCall(gh.baseUrl, 'rpcsecret', 'return_number', {
      hmac: generateToken('secret42', 'return_string'),
    });
    t.equal(otherMethod.status, 403, 'a token is bound to the method name');
    const numeric = await rpcCall(gh.baseUrl, 'rpcsecret', 'return_number', { hmac: 5 as unknown as string });
    t.equal(numeric.status, 403);
    for (const opts of [{ secret: 'secret42' }, { secret: 'wrong' }, {}]) {
      const r = await rpcCall(gh.baseUrl, 'rpcsecret', 'hello', opts);
      t.same([r.status, r.body.data], [200, 'world'], `public method with ${JSON.stringify(opts)}`);
    }
    const unknown = await rpcCall(gh.baseUrl, 'rpcsecret', 'nosuch');
    t.equal(unknown.status, 404, 'MethodError comes before the token check');
    const noSecretApp = await rpcCall(gh.baseUrl, 'rpcopen', 'return_number', { hmac: 'garbage' });
    t.equal(noSecretApp.status, 200, 'an app without a secret checks nothing');
    timeauth = false;
    const anyTok = await rpcCall(gh.baseUrl, 'rpcsecret', 'return_number', { hmac: 'x' });
    t.equal(anyTok.status, 200, 'timeauth disabled: any token passes');
    const stillMissing = await rpcCall(gh.baseUrl, 'rpcsecret', 'return_number');
    t.same(
      [stillMissing.status, stillMissing.body.exn_type],
      [400, 'MissingToken'],
      'but the field stays required',
    );
  },
);

t.test('metrics count calls per method and exceptions per type', async (t) => {
  const gh = await startGatehouse(t, {}, [rpcApps]);
  await rpcCall(gh.baseUrl, 'rpcopen', 'return_number');
  await rpcCall(gh.baseUrl, 'rpcopen', 'nosuch');
  const text = await gh.app.metrics.text();
  t.match(
    text,
    /gatehouse_rpc_call_in_seconds_count\{app="rpcopen",method="return_number",outcome="result"\} 1/,
  );
  t.match(
    text,
    /gatehouse_rpc_call_in_seconds_count\{app="rpcopen",method="\(unknown\)",outcome="exception"\} 1/,
  );
  t.match(text, /gatehouse_rpc_errors_total\{app="rpcopen",exn_type="MethodError"\} 1/);
});
