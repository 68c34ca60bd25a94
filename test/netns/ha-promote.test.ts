import t from 'tap';
import { serialGreater } from '../../src/dns/serials.js';
import { HA_FLOATING as FLOATING, until } from '../helpers/ha-pair.js';
import { needsRoot } from '../helpers/netns.js';
import { repoRoot } from '../helpers/spawn-gatehouse.js';
import { tempDir } from '../helpers/tmp.js';
import { missingCommands } from '../helpers/tools.js';
import { ADDR } from '../nft/lab.js';
import { createFirewalledHaPair, UPLINK } from './fixtures/ha-pair.js';

/**
 * What a promotion brings beyond the store (issue 16, docs/ha.md "Presence and the firewall",
 * "DNS serials", "Established connections"): a contestant logged in on the old primary keeps
 * forwarding through the new one (the standby's allowed set follows the replicated presence
 * sessions, so it is right before the takeover), zone serials never go backwards, and an
 * established NATed connection breaks — measured.
 */

const missing = needsRoot || missingCommands(['keepalived', 'curl', 'dig', 'nft']);

t.test('promotion: firewall allowed set, DNS serials, NATed connections', { skip: missing }, async (t) => {
  const pair = await createFirewalledHaPair({ prefix: 'hapr', root: tempDir(t, 'gatehouse-hapr-') });
  t.teardown(() => pair.destroy());
  const { g1, g2, client, curl, status } = pair;

  await g1.startGatehouse();
  g1.startKeepalived();
  await until(
    'g1 is primary',
    async () => (await g1.holdsFloating()) && (await status(g1)).role === 'primary',
  );
  await g2.startGatehouse();
  g2.startKeepalived();
  await until(
    'g2 follows g1',
    async () => (await status(g2)).role === 'standby' && (await status(g1)).lagTransactions === 0,
  );
  await until('the standby’s firewall has the replicated machines', async () =>
    (await pair.allowedSet(g2)).includes(ADDR.orga),
  );
  t.same(
    await pair.allowedSet(g2),
    [ADDR.orga],
    'the standby has the ruleset loaded: organizer machines only',
  );
  t.equal(await pair.fetchOut(ADDR.contestant), null, 'nobody logged in: dropped');

  // aproviste logs in on m01 (heartbeats through the floating address, i.e. to g1).
  const heartbeat = pair.spawn(client, [
    process.execPath,
    '--import',
    'tsx',
    `${repoRoot}/src/cli/main.ts`,
    'presence',
    'fake',
    'aproviste',
    'm01',
    '--every',
    '0.5',
    '--url',
    `http://${FLOATING}/`,
    '--host-header',
    'presencesync',
    '--secret',
    'demo-presencesync-pub',
  ]);
  await until(
    'the session is in g1’s allowed set',
    async () => (await pair.allowedSet(g1)).includes(ADDR.contestant),
    40_000,
  );
  t.equal(await pair.fetchOut(ADDR.contestant), UPLINK.g1, 'logged in: out through g1, masqueraded');
  await until(
    'the standby’s allowed set follows the replicated session',
    async () => (await pair.allowedSet(g2)).includes(ADDR.contestant),
    10_000,
  );
  t.pass('the standby’s allowed set holds the logged-in machine before any takeover');

  // DNS: the standby serves the primary's serials.
  const soaSerial = async (server: string): Promise<number | undefined> => {
    const r = await client.exec('dig', ['@' + server, '+short', '+time=1', '+tries=2', 'prolo', 'SOA'], {
      allowFail: true,
    });
    const m = /^\S+ \S+ (\d+) /.exec(r.stdout.trim());
    return m ? Number(m[1]) : undefined;
  };
  let onPrimary: number | undefined;
  let onStandby: number | undefined;
  const sameSerial = async (what: string) => {
    await until(
      what,
      async () => {
        [onPrimary, onStandby] = [await soaSerial(FLOATING), await soaSerial(g2.address)];
        return onPrimary !== undefined && onPrimary === onStandby;
      },
      10_000,
    ).catch(() => {});
    t.ok(onPrimary !== undefined, `the primary serves prolo SOA serial ${onPrimary}`);
    t.equal(onStandby, onPrimary, `${what}: the standby (own address) serves ${onStandby}`);
  };
  await sameSerial('the standby serves the primary’s SOA serial');

  // A burst of registrations: the primary coalesces rebuilds its own way, the standby applies
  // the transactions one by one; the standby still ends on the primary's serial.
  const registered = await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      curl([
        '-H',
        'Host: netboot',
        `http://${FLOATING}/register?hostname=b${i}&mac=52:54:00:79:01:${i.toString(16).padStart(2, '0')}&rfs=0&hfs=0&room=pasteur&mtype=user`,
      ]),
    ),
  );
  t.equal(
    registered.filter((r) => r.stdout.includes('Registration succeeded')).length,
    30,
    '30 registrations',
  );
  await sameSerial('after a burst of registrations');

  // A TCP connection NATed through g1 (an SSH session to a judge, a download…).
  const echo = pair.spawn(pair.internet, [
    process.execPath,
    '--import',
    'tsx',
    `${repoRoot}/test/netns/fixtures/tcp-probe.ts`,
    'serve',
    '7000',
  ]);
  await new Promise<void>((resolve) =>
    echo.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()),
  );
  const probe = pair.spawn(client, [
    process.execPath,
    '--import',
    'tsx',
    `${repoRoot}/test/netns/fixtures/tcp-probe.ts`,
    'connect',
    UPLINK.internet,
    '7000',
    ADDR.contestant,
    '100',
  ]);
  const events: Array<{ ev: string; t: number; n?: number; code?: string }> = [];
  let pending = '';
  probe.stdout!.on('data', (d: Buffer) => {
    pending += d.toString();
    for (let i = pending.indexOf('\n'); i >= 0; i = pending.indexOf('\n')) {
      events.push(JSON.parse(pending.slice(0, i)) as (typeof events)[number]);
      pending = pending.slice(i + 1);
    }
  });
  await until('the connection carries data', () => events.filter((e) => e.ev === 'echo').length >= 5, 20_000);

  // The heartbeats stop first: only the replicated state can keep the machine allowed now.
  heartbeat.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 300));
  const silentAt = await g1.kill();
  await until('g2 is primary', async () => (await status(g2)).role === 'primary', 20_000);
  const promotedAt = Date.now();
  t.ok(
    (await pair.allowedSet(g2)).includes(ADDR.contestant),
    'right after promotion the set holds the machine',
  );
  t.equal(await pair.fetchOut(ADDR.contestant), UPLINK.g2, 'the contestant keeps forwarding, through g2');
  t.equal(await pair.fetchOut(ADDR.contestant2), null, 'the neighbour (not logged in) stays dropped on g2');

  // The established connection: what a contestant sees.
  await until(
    'the connection ended or resumed',
    () => events.some((e) => e.t > silentAt && e.ev !== 'connected'),
    30_000,
  );
  await new Promise((r) => setTimeout(r, 1500));
  const after = events.filter((e) => e.t > silentAt);
  const broke = after.find((e) => e.ev === 'error' || e.ev === 'close');
  const lastEcho = events.filter((e) => e.ev === 'echo' && e.t <= silentAt).at(-1);
  t.ok(broke, `the NATed connection through g1 breaks (${broke?.ev} ${broke?.code ?? ''})`);
  t.notOk(
    after.some((e) => e.ev === 'echo'),
    'no data crossed it after the takeover',
  );
  t.comment(
    `established connection: last echo ${lastEcho ? silentAt - lastEcho.t : '?'} ms before g1 went silent; ` +
      `${broke?.ev} ${broke?.code ?? ''} ${broke ? broke.t - silentAt : '?'} ms after; promotion seen ${promotedAt - silentAt} ms after`,
  );
  t.equal(await pair.fetchOut(ADDR.contestant), UPLINK.g2, 'a new connection works at once');

  // DNS after the takeover: never below what g1 served; up after the first change.
  const promoted = await soaSerial(FLOATING);
  t.ok(
    promoted !== undefined &&
      onPrimary !== undefined &&
      (promoted === onPrimary || serialGreater(promoted, onPrimary)),
    `the new primary serves serial ${promoted}, not below ${onPrimary}`,
  );
  const reg = await curl([
    '-H',
    'Host: netboot',
    `http://${FLOATING}/register?hostname=new01&mac=52:54:00:79:00:01&rfs=0&hfs=0&room=pasteur&mtype=user`,
  ]);
  t.match(reg.stdout, /Registration succeeded/, 'a registration on the new primary');
  let changed: number | undefined;
  await until(
    'the serial moves',
    async () => {
      changed = await soaSerial(FLOATING);
      return changed !== undefined && changed !== promoted;
    },
    10_000,
  ).catch(() => {});
  t.ok(
    changed !== undefined && promoted !== undefined && serialGreater(changed, promoted),
    `then ${changed}, above ${promoted}`,
  );

  // The new primary's presence saves what it took over: the session is still there after a flush.
  await new Promise((r) => setTimeout(r, 2500));
  t.ok(
    (await pair.allowedSet(g2)).includes(ADDR.contestant),
    'the session survives the new primary’s first saves',
  );
});
