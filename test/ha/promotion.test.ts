import t from 'tap';
import { request } from 'undici';
import { defaultConfig } from '../../src/config/index.js';
import type { DnsService } from '../../src/dns/service.js';
import { machinesTable } from '../../src/mdb/model.js';
import { sessionsTable } from '../../src/presence/persist.js';
import { PRESENCE_SERVICE_NAME, type PresenceService } from '../../src/presence/service.js';
import { usersTable } from '../../src/udb/model.js';
import { startGatehouse, type TestGatehouse } from '../helpers/gatehouse.js';
import { MACHINES, USERS } from '../nft/lab.js';

/**
 * What a standby mirrors for its promotion (docs/ha.md "Presence and the firewall", "DNS
 * serials"), in-process with roles forced through `ha.role`; the namespace version with
 * keepalived, nf_tables and dig is test/netns/ha-promote.test.ts.
 */

const SECRET = 'test-ha-promotion';
const TIMEOUT_S = 2;

function gateway(
  t: { teardown(fn: () => void | Promise<void>): void },
  node: string,
  role: 'primary' | 'standby',
  peer?: string,
): Promise<TestGatehouse> {
  return startGatehouse(t, {
    secrets: { haReplication: SECRET },
    presence: { timeout: TIMEOUT_S },
    ha: { enabled: true, node, role, ...(peer ? { peer } : {}), retryMs: 50, syncTimeoutMs: 2000 },
  });
}

async function until(what: string, fn: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const presence = (gh: TestGatehouse) => gh.app.service<PresenceService>(PRESENCE_SERVICE_NAME)!;
const serials = (gh: TestGatehouse) =>
  JSON.stringify(gh.app.service<DnsService>('dns')!.snapshot.zones.map((z) => [z.id, z.serial]));

t.test('a standby mirrors presence sessions and DNS serials; its promotion keeps them', async (t) => {
  const a = await gateway(t, 'gwa', 'primary');
  await a.app.store.write((tx) => {
    for (const m of MACHINES) tx.put(machinesTable(a.app.store), m.hostname, m);
    for (const u of USERS) tx.put(usersTable(a.app.store), u.login, u);
  });
  const b = await gateway(t, 'gwb', 'standby', a.baseUrl);
  await until(
    'b has the machines',
    () => b.app.store.read((tx) => tx.values(machinesTable(b.app.store))).length > 0,
  );

  // The login embargo of a fresh start, then aproviste logs in on m01 at the primary.
  await new Promise((r) => setTimeout(r, TIMEOUT_S * 1000 + 100));
  t.equal(presence(a).login('aproviste', 'm01').refusal, null, 'login accepted on the primary');
  const beat = setInterval(() => presence(a).heartbeat('aproviste', 'm01'), 300);
  t.teardown(() => clearInterval(beat));
  await until('the standby mirrors the session', () => presence(b).sessions().get('aproviste') === 'm01');
  t.pass('the standby mirrors the session');
  t.throws(
    () => presence(b).login('bcontest', 'm02'),
    { code: 'GH_HA_STANDBY' },
    'the standby refuses a login',
  );

  // Registrations in a burst: the standby ends on the primary's serials.
  const burst = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      request(
        `${a.baseUrl}/register?hostname=p${i}&mac=52:54:00:01:02:${i.toString(16).padStart(2, '0')}&rfs=0&hfs=0&room=pasteur&mtype=user`,
        { headers: { host: 'netboot' } },
      ).then((r) => r.body.text()),
    ),
  );
  t.equal(burst.filter((b) => b.includes('Registration succeeded')).length, 20);
  await until('the same serials', () => serials(a) === serials(b)).catch(() => {});
  t.equal(serials(b), serials(a), 'the standby serves the primary’s serials');
  const before = new Map(JSON.parse(serials(a)) as Array<[string, number]>);

  // The primary goes; the standby is promoted.
  clearInterval(beat);
  await a.app.stop();
  const config = defaultConfig({ ...b.config, ha: { ...b.config.ha, role: 'primary' } });
  b.config = config;
  await b.app.reload(config);
  t.equal(presence(b).sessions().get('aproviste'), 'm01', 'the promoted gateway holds the session');
  for (const z of b.app.service<DnsService>('dns')!.snapshot.zones) {
    const old = before.get(z.id);
    if (old !== undefined) t.ok(z.serial >= old, `${z.id}: ${z.serial} not below ${old}`);
  }
  await new Promise((r) => setTimeout(r, 800));
  t.ok(
    b.app.store.read((tx) => tx.get(sessionsTable, 'aproviste')),
    'its first saves keep the session in the store',
  );
  t.equal(presence(b).login('bcontest', 'm02').refusal, null, 'and it takes logins at once (no embargo)');
});
