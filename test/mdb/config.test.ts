import t from 'tap';
import { loadConfigFile, parseConfig } from '../../src/config/index.js';
import { startGatehouse } from '../helpers/gatehouse.js';
import { rpcCall } from '../rpc/rpc-client.js';
import { openPoll, pollQuery } from '../sync/poll-client.js';

t.test(
  'scenario 78: an empty sync secret or a missing file stops start-up with a message naming it',
  async (t) => {
    t.throws(() => parseConfig('secrets:\n  mdbsyncPub: x\n  mdbsyncSub: ""\n', 'gatehouse.yml'), {
      message: /^gatehouse\.yml:3: secrets\.mdbsyncSub: a shared secret cannot be empty/,
    });
    t.throws(() => loadConfigFile('/nonexistent/gatehouse.yml'), {
      code: 'GH_CONFIG_NOT_FOUND',
      message: /\/nonexistent\/gatehouse\.yml/,
    });
  },
);

t.test(
  'pub and sub secrets stay distinct; reload applies new secrets and timeauth without restart',
  async (t) => {
    const gh = await startGatehouse(t, { secrets: { mdbsyncPub: 'PUB', mdbsyncSub: 'SUB' } });
    const withPub = await openPoll(gh.baseUrl, 'mdbsync', pollQuery('PUB'));
    t.equal(withPub.status, 403);
    await withPub.close();
    const next = parseConfig(
      'secrets:\n  mdbsyncPub: PUB2\n  mdbsyncSub: SUB2\ntimeauth:\n  enabled: false\n',
      'x.yml',
    );
    await gh.app.reload({ ...gh.config, secrets: next.secrets, timeauth: next.timeauth });
    const any = await openPoll(gh.baseUrl, 'mdbsync', '?data=%7B%7D&hmac=anything');
    t.teardown(() => any.close());
    t.equal(any.status, 200, 'timeauth disabled: any token');
    t.equal(await any.next(), '[]');
    const noHmac = await openPoll(gh.baseUrl, 'mdbsync', '?data=%7B%7D');
    t.equal(noHmac.status, 400, 'the field is still required');
    await noHmac.close();
    t.equal((await rpcCall(gh.baseUrl, 'mdb', 'query')).status, 200);
  },
);
