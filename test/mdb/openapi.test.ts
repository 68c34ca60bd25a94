import fs from 'node:fs';
import t from 'tap';
import { parse } from 'yaml';
import { addMdbRoutes } from '../../src/http/admin-api/mdb-routes.js';
import { AdminApi } from '../../src/http/admin-api/router.js';
import { defaultConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics.js';
import type { Store } from '../../src/store/index.js';

t.test('docs/openapi.yaml documents every MDB admin route', async (t) => {
  const doc = parse(fs.readFileSync(new URL('../../docs/openapi.yaml', import.meta.url), 'utf8')) as {
    paths: Record<string, Record<string, unknown>>;
  };
  const api = addMdbRoutes(
    new AdminApi({ config: () => defaultConfig(), logger: silentLogger, metrics: new Metrics() }),
    {} as Store,
  );
  const routes = api.describe();
  t.ok(routes.length >= 20);
  for (const r of routes) {
    const path = r.pattern.replace(/:(\w+)/g, '{$1}');
    t.ok(doc.paths[path]?.[r.method.toLowerCase()], `${r.method} ${path} documented`);
  }
});
