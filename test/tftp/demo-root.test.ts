import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { DEMO_BOOT_FILES } from '../../src/tftp/demo-root.js';
import { loopbackNetns, needsRoot } from '../helpers/netns.js';
import { repoRoot } from '../helpers/spawn-gatehouse.js';
import { tempDir } from '../helpers/tmp.js';

/**
 * Issue 15 item 7: `npm start` on a fresh clone (embedded defaults, empty data folder) is
 * ready at once. The embedded defaults listen on fixed ports (HTTP 8080, TFTP 6969, DNS 5353),
 * so the server runs in a namespace of its own.
 */
t.test(
  'embedded defaults on an empty data folder: /readyz is 200, the demo TFTP root is served',
  { skip: needsRoot },
  async (t) => {
    const ns = await loopbackNetns(t, 'hh-demo');
    const data = path.join(tempDir(t), 'data');
    const proc = ns.spawn(
      process.execPath,
      ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), 'serve', '--data', data],
      {
        cwd: repoRoot,
      },
    );
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not listening after 30 s:\n${stderr}`)), 30_000);
      proc.stdout!.on('data', (d: Buffer) => {
        if (d.toString().includes('gatehouse listening')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.on('exit', (code) => reject(new Error(`exited with ${code}:\n${stderr}`)));
    });
    const ready = await ns.exec('curl', ['-s', '-w', '\\n%{http_code}', 'http://127.0.0.1:8080/readyz'], {
      allowFail: true,
    });
    t.equal(ready.stdout, 'ready\n\n200', '/readyz');
    const root = path.join(data, 'tftp');
    t.ok(fs.existsSync(path.join(root, 'README.txt')), 'the demo root has a README');
    for (const name of DEMO_BOOT_FILES) {
      const local = path.join(path.dirname(data), `got-${name}`);
      const got = await ns.exec('atftp', ['-g', '-r', name, '-l', local, '127.0.0.1', '6969'], {
        allowFail: true,
      });
      t.equal(got.code, 0, `atftp ${name}: ${got.stderr}`);
      t.match(
        fs.existsSync(local) ? fs.readFileSync(local, 'utf8') : '',
        new RegExp(`^Gatehouse demo placeholder for ${name.replace('.', '\\.')}`),
        `TFTP serves ${name}`,
      );
    }
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
    t.notMatch(stderr, /"level":"error"/, 'no error-level line');
  },
);
