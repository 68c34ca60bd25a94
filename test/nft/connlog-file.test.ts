import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { createMemoryLogger } from '../../src/log.js';
import { ConnectionLogFile } from '../../src/nft/connlog-file.js';
import { tempDir } from '../helpers/tmp.js';

t.test('appends lines in order and rotates before a file would exceed maxBytes', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'sub', 'connections.log');
  const log = new ConnectionLogFile({ path: file, maxBytes: 4096, keep: 3, logger: createMemoryLogger() });
  const lines = Array.from({ length: 400 }, (_, i) => `line ${String(i).padStart(4, '0')} ${'x'.repeat(40)}`);
  for (const l of lines) log.append(l);
  await log.close();
  const files = [file, `${file}.1`, `${file}.2`, `${file}.3`];
  for (const f of files) t.ok(fs.statSync(f).size <= 4096, `${path.basename(f)} within maxBytes`);
  t.notOk(fs.existsSync(`${file}.4`), 'only `keep` rotated files');
  const kept = [...files].reverse().flatMap((f) => fs.readFileSync(f, 'utf8').split('\n').filter(Boolean));
  t.same(kept, lines.slice(lines.length - kept.length), 'the newest lines, in order, nothing interleaved');
  t.ok(log.stats.rotations >= 4);
  t.equal(log.stats.lines, 400);
});

t.test('appending to an existing file continues it (append-only across restarts)', async (t) => {
  const file = path.join(tempDir(t), 'c.log');
  fs.writeFileSync(file, 'old\n');
  const log = new ConnectionLogFile({ path: file, maxBytes: 1 << 20, keep: 2, logger: createMemoryLogger() });
  log.append('new\nline');
  await log.close();
  t.equal(fs.readFileSync(file, 'utf8'), 'old\nnew line\n', 'embedded newlines cannot forge lines');
});

t.test('a write failure is logged and counted, never thrown at the producer', async (t) => {
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, 'file'), '');
  const logger = createMemoryLogger();
  const log = new ConnectionLogFile({
    path: path.join(dir, 'file', 'not-a-dir.log'),
    maxBytes: 4096,
    keep: 1,
    logger,
  });
  log.append('x');
  await log.flush();
  t.equal(log.stats.writeErrors, 1);
  t.ok(logger.records.some((r) => r.event === 'connlog.write_failed'));
  await log.close();
});
