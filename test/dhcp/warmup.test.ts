import t from 'tap';
import { defaultConfig } from '../../src/config/index.js';
import { buildPlan } from '../../src/dhcp/plan.js';
import { warmHotPath } from '../../src/dhcp/warmup.js';

t.test('the start-up warm-up builds replies for known machines and aliens', async (t) => {
  const plan = buildPlan(defaultConfig({ demo: { seed: false } }));
  const ms = warmHotPath(plan, 20);
  t.ok(ms > 0, `took ${ms.toFixed(1)} ms`);
});

t.test('the warm-up copes with no known subnet and no alien pool (nothing to warm)', async (t) => {
  const plan = buildPlan(
    defaultConfig({ demo: { seed: false }, dhcp: { subnets: [], alien: { enabled: false } } }),
  );
  t.doesNotThrow(() => warmHotPath(plan, 5));
});
