import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import t from 'tap';
import { request } from 'undici';
import { SELF_REGISTRATION_KEY } from '../../src/mdb/model.js';
import { setSetting } from '../../src/mdb/settings.js';
import { startGatehouse } from '../helpers/gatehouse.js';

/** Scenarios 44 and 45 (spec §18): /register through MDB `register`, then DNS, over real HTTP. */

const execFileP = promisify(execFile);

async function setup(t: { teardown(fn: () => void | Promise<void>): void }) {
  const gh = await startGatehouse(t);
  const get = async (p: string, host = 'netboot') => {
    const r = await request(`${gh.baseUrl}${p}`, { headers: { host } });
    return { status: r.statusCode, type: String(r.headers['content-type']), body: await r.body.text() };
  };
  return { gh, get };
}

const OK_QUERY = 'hostname=newmachine&mac=52:54:00:12:34:56&rfs=0&hfs=0&room=pasteur&mtype=user';

t.test(
  '44: registration succeeds, the machine is in MDB with a user-pool address and resolves in DNS',
  async (t) => {
    const { gh, get } = await setup(t);
    // iPXE percent-encodes the colons of ${mac}.
    const r = await get(`/register?${OK_QUERY.replace('52:54:00:12:34:56', '52%3A54%3A00%3A12%3A34%3A56')}`);
    t.equal(r.status, 200);
    t.match(r.type, /^text\/plain/);
    t.match(r.body, /^#!ipxe\n(echo [^\n]*\n)+sleep 30\nreboot\n$/);
    t.notMatch(r.body, /fail/i);
    const q = await get('/call/query?mac=52:54:00:12:34:56', 'mdb');
    const machines = (JSON.parse(q.body) as { data: Array<Record<string, unknown>> }).data;
    t.equal(machines.length, 1);
    t.match(machines[0], {
      hostname: 'newmachine',
      mac: '52:54:00:12:34:56',
      ip: '192.168.0.1',
      rfs: 0,
      hfs: 0,
      room: 'pasteur',
      mtype: 'user',
    });
    const log = gh.logs.find((l) => l.event === 'netboot.request' && l.endpoint === 'register');
    t.match(log, { outcome: 'registered', hostname: 'newmachine', ip: '192.168.0.1' });
    const dnsPort = (gh.app.service('dns') as unknown as { port: number } | undefined)?.port;
    t.ok(dnsPort, 'the DNS service runs');
    const dig = await execFileP('dig', [
      '@127.0.0.1',
      '-p',
      String(dnsPort),
      '+tries=1',
      '+time=3',
      '+short',
      'newmachine.prolo',
      'A',
    ]);
    t.equal(dig.stdout.trim(), '192.168.0.1', 'newmachine.prolo resolves');
  },
);

t.test('45: error scripts carry the original messages', async (t) => {
  const { gh, get } = await setup(t);
  const missing = await get('/register?hostname=a&mac=52:54:00:00:00:01&rfs=0&hfs=0&room=pasteur');
  t.equal(missing.status, 200);
  t.match(missing.body, 'Missing argument mtype');
  t.match(missing.body, /sleep 30\nreboot\n$/);
  const notInt = await get(
    '/register?hostname=a&mac=52:54:00:00:00:01&rfs=abc&hfs=0&room=pasteur&mtype=user',
  );
  t.match(notInt.body, "invalid literal for int() with base 10: 'abc'");
  // A validation failure: the Python dict text of the original ValidationError.
  t.match((await get(`/register?${OK_QUERY}`)).body, 'Registration succeeded');
  const dup = await get(`/register?${OK_QUERY.replace('52:54:00:12:34:56', '52:54:00:12:34:57')}`);
  t.match(dup.body, "{'hostname': ['Machine with this Host name already exists.']}");
  t.match(
    (await get(`/register?${OK_QUERY.replace('mtype=user', 'mtype=foo').replace('newmachine', 'other')}`))
      .body,
    'unable to allocate an IP address',
  );
  await gh.app.store.write((tx) => setSetting(tx, SELF_REGISTRATION_KEY, false));
  const disabled = await get(`/register?${OK_QUERY.replace('newmachine', 'third').replace(':56', ':58')}`);
  t.match(disabled.body, 'self registration is disabled');
  t.match(disabled.body, /sleep 30\nreboot\n$/);
  const outcomes = gh.logs
    .filter((l) => l.event === 'netboot.request' && l.endpoint === 'register')
    .map((l) => l.outcome);
  t.same(outcomes, [
    'register_failed',
    'register_failed',
    'registered',
    'register_failed',
    'register_failed',
    'register_failed',
  ]);
});
