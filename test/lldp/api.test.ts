import t from 'tap';
import { request } from 'undici';
import { LLDP_API_PREFIX, lldpApi } from '../../src/lldp/api.js';
import type { Neighbour } from '../../src/lldp/neighbours.js';
import { mdbSwitchCreator } from '../../src/lldp/switches.js';
import { listSwitches } from '../../src/mdb/switches.js';
import { startGatehouse } from '../helpers/gatehouse.js';

/** The admin API over real HTTP, with a neighbour table filled by hand (no kernel needed). */

function neighbour(over: Partial<Neighbour>): Neighbour {
  return {
    interface: 'lan0',
    chassis: '68:b5:99:9f:45:40',
    chassisSubtype: 4,
    port: 'ge-0/0/1',
    portSubtype: 5,
    portDescription: null,
    systemName: 'sw-kb-past-2',
    systemDescription: null,
    capabilities: ['bridge'],
    managementAddresses: [],
    portVlanId: null,
    sourceMac: null,
    ttl: 120,
    firstSeen: '2026-01-01T00:00:00.000Z',
    lastSeen: '2026-01-01T00:00:00.000Z',
    expiresAt: '2026-01-01T00:02:00.000Z',
    ...over,
  };
}

t.test('list neighbours and turn one into an MDB switch in one call', async (t) => {
  const gh = await startGatehouse(t);
  const seen = [neighbour({}), neighbour({ chassis: 'sw-local-id', chassisSubtype: 7, systemName: null })];
  gh.app.defaultRoutes.add(
    LLDP_API_PREFIX,
    lldpApi({
      config: () => gh.config,
      neighbours: () => seen,
      createSwitch: mdbSwitchCreator(gh.app.store),
    }),
  );
  const auth = {
    authorization: `Bearer ${gh.config.secrets.adminToken}`,
    'content-type': 'application/json',
  };
  const call = async (
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
    headers: Record<string, string> = auth,
  ) => {
    const r = await request(`${gh.baseUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: r.statusCode, json: (await r.body.json()) as Record<string, unknown> };
  };

  t.equal((await call('GET', '/api/v1/lldp/neighbours', undefined, {})).status, 401, 'admin token required');
  const list = await call('GET', '/api/v1/lldp/neighbours');
  t.equal(list.status, 200);
  t.same(
    (list.json.neighbours as Neighbour[]).map((n) => n.chassis),
    ['68:b5:99:9f:45:40', 'sw-local-id'],
  );

  const made = await call('POST', '/api/v1/lldp/neighbours/68%3AB5%3A99%3A9F%3A45%3A40/switch', {
    rfs: 1,
    hfs: 1,
    room: 'alt',
  });
  t.equal(made.status, 201);
  t.same(
    made.json.switch,
    { name: 'sw-kb-past-2', chassis: '68:b5:99:9f:45:40', room: 'alt', rfs: 1, hfs: 1 },
    'name defaults to the system name',
  );
  t.same(
    gh.app.store.read((tx) => listSwitches(tx)),
    [made.json.switch],
    'stored in MDB',
  );
  const boot = await request(`${gh.baseUrl}/bootstrap`, { headers: { host: 'netboot' } });
  t.match(
    await boot.body.text(),
    'set sw_name_0 68:b5:99:9f:45:40\nset sw_rfs_0 1\nset sw_hfs_0 1\nset sw_room_0 alt',
    'the bootstrap script offers it',
  );

  const again = await call('POST', '/api/v1/lldp/neighbours/68:b5:99:9f:45:40/switch', { name: 'x' });
  t.equal(again.status, 400);
  t.match(again.json, {
    code: 'GH_VALIDATION',
    fields: { chassis: ['Switch with this Chassis ID already exists.'] },
  });
  const badRoom = await call('POST', '/api/v1/lldp/neighbours/sw-local-id/switch', { room: 'kitchen' });
  t.equal(badRoom.status, 400, 'a non-MAC chassis or a bad room is refused by MDB validation');
  t.match(badRoom.json.fields, { room: ["Value 'kitchen' is not a valid choice."] });
  const unknown = await call('POST', '/api/v1/lldp/neighbours/00:00:00:00:00:01/switch', {});
  t.equal(unknown.status, 404);
  t.equal((await call('GET', '/api/v1/lldp/neighbours/68:b5:99:9f:45:40/switch')).status, 405);
  const r = await request(`${gh.baseUrl}/api/v1/lldp/neighbours/68:b5:99:9f:45:41/switch`, {
    method: 'POST',
    headers: auth,
    body: '[1',
  });
  t.equal(r.statusCode, 404, 'unknown neighbour before body parsing');
  await r.body.dump();
});
