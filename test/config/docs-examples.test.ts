import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { parseConfig } from '../../src/config/index.js';
import { repoRoot } from '../helpers/spawn-gatehouse.js';

// The gateway configuration shown in docs/operations.md must be one the appliance accepts.
t.test('the example gateway config in docs/operations.md validates', async (t) => {
  const doc = fs.readFileSync(path.join(repoRoot, 'docs/operations.md'), 'utf8');
  const block = /## 2\. Configure[\s\S]*?```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
  t.ok(block, 'the yaml block is present');
  const yaml = block!.replace(/: …/g, ': example-secret-value');
  const config = parseConfig(yaml, 'docs/operations.md');
  t.equal(config.dataDir, '/var/lib/gatehouse');
  t.same(config.tftp.listen, ['192.168.1.254:69', '192.168.250.254:69']);
  t.equal(config.firewall.enabled, true);
});
