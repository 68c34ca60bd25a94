import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { repoRoot } from '../helpers/spawn-gatehouse.js';
import { tempDir } from '../helpers/tmp.js';
import { cyclePath, importCycles, importGraph } from './import-graph.js';

t.test('src/ has no import circle: every layer only imports downward', async (t) => {
  const root = path.join(repoRoot, 'src');
  const graph = importGraph(root);
  t.ok(graph.size > 100, `the whole tree was read (${graph.size} files)`);
  const circles = importCycles(graph).map((c) =>
    cyclePath(graph, c)
      .map((f) => path.relative(root, f))
      .join(' -> '),
  );
  t.same(circles, [], `import circles (type-only imports count):\n${circles.join('\n')}`);
});

t.test('the detector finds circles of types, re-exports and dynamic imports', async (t) => {
  const dir = tempDir(t);
  const write = (name: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  };
  write('config/index.ts', "export { schema } from './schema.js';\n");
  write('config/schema.ts', "import { udb } from '../udb/config.js';\nexport const schema = udb;\n");
  write('udb/config.ts', "import type { X } from '../config/index.js';\nexport const udb = 1;\n");
  write('lazy/a.ts', "export const a = () => import('./b.js');\n");
  write('lazy/b.ts', "import { a } from './a.js';\nexport const b = a;\n");
  write('leaf.ts', "import fs from 'node:fs';\nimport { schema } from './config/index.js';\n");
  const graph = importGraph(dir);
  const circles = importCycles(graph).map((c) => c.map((f) => path.relative(dir, f)));
  t.same(
    circles.map((c) => [...c].sort()),
    [
      ['config/index.ts', 'config/schema.ts', 'udb/config.ts'],
      ['lazy/a.ts', 'lazy/b.ts'],
    ].map((c) => c.sort()),
  );
  const first = importCycles(graph).find((c) => c.some((f) => f.endsWith('index.ts')))!;
  const walk = cyclePath(graph, first).map((f) => path.relative(dir, f));
  t.equal(walk[0], walk.at(-1), 'the path closes the circle');
  t.equal(walk.length, 4);
});
