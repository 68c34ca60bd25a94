import { ValidationError } from '../../errors.js';
import {
  listMachines,
  createMachine,
  deleteMachine,
  getMachine,
  queryMachines,
  updateMachine,
} from '../../mdb/machines.js';
import { MACHINE_FIELDS, SWITCH_FIELDS } from '../../mdb/model.js';
import { createPool, deletePool, getPool, listPools, updatePool } from '../../mdb/pools.js';
import { createSetting, deleteSetting, getSetting, listSettings, updateSetting } from '../../mdb/settings.js';
import {
  createSwitch,
  deleteSwitch,
  getSwitch,
  listSwitches,
  querySwitches,
  updateSwitch,
} from '../../mdb/switches.js';
import type { Store } from '../../store/index.js';
import { type AdminApi, created, onlyFields, queryObject } from './router.js';

const SETTING_FIELDS = ['key', 'value_bool', 'value_str', 'value_int'] as const;
const POOL_FIELDS = ['mtype', 'network', 'last'] as const;

function settingId(text: string): number {
  if (!/^\d{1,9}$/.test(text))
    throw new ValidationError(`setting id must be a positive integer, not "${text}"`);
  return Number(text);
}

/**
 * MDB resources of the admin API (spec §2.5): CRUD on machines, switches, IP pools and volatile
 * settings, with the original's save semantics (validation, lowercasing, IP allocation, sync
 * notification through the store feed) and read-only hostname/ip/mac on edit. List endpoints
 * accept the same Django lookups as the RPC `query` as query-string parameters.
 */
export function addMdbRoutes(api: AdminApi, store: Store): AdminApi {
  const list = <T>(items: T[]) => ({ items, count: items.length });
  return api
    .get('/api/v1/machines', ({ query }) => {
      const filters = queryObject(query);
      return list(
        store.read((tx) => (Object.keys(filters).length ? queryMachines(tx, filters) : listMachines(tx))),
      );
    })
    .post('/api/v1/machines', async ({ body }) => {
      const input = onlyFields(await body(), MACHINE_FIELDS);
      return created(await store.write((tx) => createMachine(tx, input)));
    })
    .get('/api/v1/machines/:hostname', ({ params }) => store.read((tx) => getMachine(tx, params.hostname!)))
    .patch('/api/v1/machines/:hostname', async ({ params, body }) => {
      const changes = onlyFields(await body(), MACHINE_FIELDS);
      return store.write((tx) => updateMachine(tx, params.hostname!, changes));
    })
    .delete('/api/v1/machines/:hostname', ({ params }) =>
      store.write((tx) => deleteMachine(tx, params.hostname!)),
    )

    .get('/api/v1/switches', ({ query }) => {
      const filters = queryObject(query);
      return list(
        store.read((tx) => (Object.keys(filters).length ? querySwitches(tx, filters) : listSwitches(tx))),
      );
    })
    .post('/api/v1/switches', async ({ body }) => {
      const input = onlyFields(await body(), SWITCH_FIELDS);
      return created(await store.write((tx) => createSwitch(tx, input)));
    })
    .get('/api/v1/switches/:chassis', ({ params }) => store.read((tx) => getSwitch(tx, params.chassis!)))
    .patch('/api/v1/switches/:chassis', async ({ params, body }) => {
      const changes = onlyFields(await body(), SWITCH_FIELDS);
      return store.write((tx) => updateSwitch(tx, params.chassis!, changes));
    })
    .delete('/api/v1/switches/:chassis', ({ params }) =>
      store.write((tx) => deleteSwitch(tx, params.chassis!)),
    )

    .get('/api/v1/pools', () => list(store.read((tx) => listPools(tx))))
    .post('/api/v1/pools', async ({ body }) => {
      const input = onlyFields(await body(), POOL_FIELDS);
      return created(await store.write((tx) => createPool(tx, input)));
    })
    .get('/api/v1/pools/:mtype', ({ params }) => store.read((tx) => getPool(tx, params.mtype!)))
    .patch('/api/v1/pools/:mtype', async ({ params, body }) => {
      const changes = onlyFields(await body(), POOL_FIELDS);
      return store.write((tx) => updatePool(tx, params.mtype!, changes));
    })
    .delete('/api/v1/pools/:mtype', ({ params }) => store.write((tx) => deletePool(tx, params.mtype!)))

    .get('/api/v1/settings', () => list(store.read((tx) => listSettings(tx))))
    .post('/api/v1/settings', async ({ body }) => {
      const input = onlyFields(await body(), SETTING_FIELDS);
      return created(await store.write((tx) => createSetting(tx, input)));
    })
    .get('/api/v1/settings/:id', ({ params }) => store.read((tx) => getSetting(tx, settingId(params.id!))))
    .patch('/api/v1/settings/:id', async ({ params, body }) => {
      const changes = onlyFields(await body(), SETTING_FIELDS);
      return store.write((tx) => updateSetting(tx, settingId(params.id!), changes));
    })
    .delete('/api/v1/settings/:id', ({ params }) =>
      store.write((tx) => deleteSetting(tx, settingId(params.id!))),
    );
}
