import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { runCli } from '../../src/cli/main.js';
import { builtCli, operatorEnv } from '../helpers/built-cli.js';
import { tempDir } from '../helpers/tmp.js';

const MACHINES = 3000;

/**
 * `gatehouse mdb list | head -1`: the reader exits after one line while the CLI still has
 * ~200 KB to write (more than a pipe holds). The CLI must stop as a program killed by SIGPIPE
 * does: status 141 (what `ls | head` reports under pipefail), nothing on stderr.
 */
t.test('a CLI whose reader goes away exits quietly (gatehouse mdb list | head -1)', async (t) => {
  const cli = builtCli();
  const dir = tempDir(t);
  const file = path.join(dir, 'machines.jsonl');
  const rows = Array.from({ length: MACHINES }, (_, i) => ({
    hostname: `pipe${i}`,
    mac: `02:00:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
    mtype: 'cluster',
    room: 'cluster',
    ip: `10.0.${i >> 8}.${i & 255}`,
  }));
  fs.writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n'));
  const quiet = { out: () => {}, err: () => {} };
  t.equal(await runCli(['mdb', 'import', file, '--data', path.join(dir, 'data')], quiet), 0);
  const statusFile = path.join(dir, 'status');
  const { stdout, stderr } = await promisify(execFile)(
    'bash',
    [
      '-c',
      '"$0" "$1" mdb list --data "$2" | head -1; echo "${PIPESTATUS[0]}" > "$3"',
      process.execPath,
      cli,
      path.join(dir, 'data'),
      statusFile,
    ],
    { env: operatorEnv() },
  );
  t.match(stdout, /^pipe\d+\t10\.0\.\d+\.\d+\t/, 'head got the first machine');
  t.equal(stdout.split('\n').filter(Boolean).length, 1);
  t.equal(stderr, '', 'no stack trace, nothing on stderr');
  t.equal(fs.readFileSync(statusFile, 'utf8').trim(), '141', 'the status of a program stopped by SIGPIPE');
});
