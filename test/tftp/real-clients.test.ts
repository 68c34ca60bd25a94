/**
 * Real TFTP clients from Debian against the real server over loopback: tftp-hpa (512-byte
 * blocks, no options), atftp (blksize/tsize options) and curl (its own option set). Files must
 * arrive byte-identical, including one of more than 65535 blocks (block number wrap).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { missingCommands } from '../helpers/tools.js';
import { tempDir } from '../helpers/tmp.js';
import { makeRoot, metric, startTftp, waitFor } from './helpers.js';

const run = promisify(execFile);
const WRAP_SIZE = 65_537 * 512 + 100; // 65 538 blocks of 512 bytes


const skip = missingCommands(['tftp', 'atftp', 'curl']);

type Outcome = { code: number; stdout: string; stderr: string };
async function exec(cmd: string, args: string[], cwd: string, timeoutMs = 60_000): Promise<Outcome> {
  try {
    const r = await run(cmd, args, { cwd, timeout: timeoutMs, maxBuffer: 1 << 20 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof err.code === 'number' ? err.code : -1,
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? '',
    };
  }
}

const clients = {
  'tftp-hpa': (port: number, file: string, out: string, cwd: string) =>
    exec('tftp', ['127.0.0.1', String(port), '-m', 'binary', '-c', 'get', file, out], cwd),
  atftp: (port: number, file: string, out: string, cwd: string) =>
    exec(
      'atftp',
      [
        '--option',
        'blksize 1456',
        '--option',
        'tsize 0',
        '-g',
        '-r',
        file,
        '-l',
        out,
        '127.0.0.1',
        String(port),
      ],
      cwd,
    ),
  'atftp (no options, 512)': (port: number, file: string, out: string, cwd: string) =>
    exec('atftp', ['-g', '-r', file, '-l', out, '127.0.0.1', String(port)], cwd),
  curl: (port: number, file: string, out: string, cwd: string) =>
    exec('curl', ['-sS', '-o', out, `tftp://127.0.0.1:${port}/${file}`], cwd),
};

t.test(
  'byte-identical files with tftp-hpa, atftp and curl: small, 10 MB, > 65535 blocks',
  { skip },
  async (t) => {
    const { root, bytes } = makeRoot(t, {
      'prologin.kpxe': 74_320,
      'ten.bin': 10 * 1024 * 1024,
      'wrap.bin': WRAP_SIZE,
    });
    const out = tempDir(t, 'ghtftp-out-');
    const h = await startTftp(t, { root });
    let expectedOk = 0;
    for (const [name, get] of Object.entries(clients)) {
      const files =
        name === 'atftp' ? ['prologin.kpxe', 'ten.bin'] : ['prologin.kpxe', 'ten.bin', 'wrap.bin'];
      for (const file of files) {
        const local = `${name.replace(/\W+/g, '_')}-${file}`;
        const r = await get(h.port, file, local, out);
        t.equal(r.code, 0, `${name} ${file}: exit 0 ${r.stderr.trim()}`);
        const got = fs.readFileSync(path.join(out, local));
        t.ok(got.equals(bytes[file]!), `${name} ${file}: ${got.length} bytes identical`);
        fs.rmSync(path.join(out, local));
        expectedOk++;
      }
    }
    // The client exits right after its final ACK; the server may still be reading it.
    const okCount = async () => metric(await h.metrics(), 'gatehouse_tftp_transfers_total', { result: 'ok' });
    await waitFor(async () => (await okCount()) === expectedOk, 5000, 'every transfer ok');
    t.equal(await okCount(), expectedOk, 'every transfer logged as ok');
    const blk = h.gh.logs
      .filter((l) => l.event === 'tftp.transfer' && l.file === 'ten.bin')
      .map((l) => l.blksize);
    t.same(new Set(blk), new Set([512, 1456]), 'tftp-hpa/curl used 512, atftp negotiated 1456');
  },
);

t.test('scenario 46 with real clients: errors for ../, WRQ and missing files', { skip }, async (t) => {
  const { root } = makeRoot(t, { 'prologin.kpxe': 1000 });
  const out = tempDir(t, 'ghtftp-out-');
  fs.writeFileSync(path.join(out, 'upload.bin'), 'x');
  const h = await startTftp(t, { root });
  const p = String(h.port);

  const hpaMissing = await exec('tftp', ['127.0.0.1', p, '-m', 'binary', '-c', 'get', 'missing.bin'], out);
  t.match(hpaMissing.stdout + hpaMissing.stderr, /Error code 1: File not found/, 'tftp-hpa: error 1');
  const atftpMissing = await exec('atftp', ['-g', '-r', 'missing.bin', '-l', 'm', '127.0.0.1', p], out);
  t.not(atftpMissing.code, 0);
  t.match(atftpMissing.stderr, /File not found/, 'atftp: error 1');
  const curlMissing = await exec('curl', ['-sS', '-o', 'm', `tftp://127.0.0.1:${p}/missing.bin`], out);
  t.equal(curlMissing.code, 68, 'curl: CURLE_TFTP_NOTFOUND');

  const hpaEscape = await exec(
    'tftp',
    ['127.0.0.1', p, '-m', 'binary', '-c', 'get', '../../etc/passwd', 'passwd'],
    out,
  );
  t.match(hpaEscape.stdout + hpaEscape.stderr, /Error code 2/, 'tftp-hpa: ../../etc/passwd refused');
  const atftpEscape = await exec(
    'atftp',
    ['-g', '-r', '../../etc/passwd', '-l', 'passwd', '127.0.0.1', p],
    out,
  );
  t.match(atftpEscape.stderr, /Access violation/);
  const curlEscape = await exec(
    'curl',
    ['-sS', '-o', 'passwd', `tftp://127.0.0.1:${p}/../../etc/passwd`, '--path-as-is'],
    out,
  );
  t.equal(curlEscape.code, 69, 'curl: CURLE_TFTP_PERM');

  const hpaPut = await exec(
    'tftp',
    ['127.0.0.1', p, '-m', 'binary', '-c', 'put', 'upload.bin', 'up.bin'],
    out,
  );
  t.match(hpaPut.stdout + hpaPut.stderr, /Error code 2/, 'tftp-hpa: WRQ refused');
  const curlPut = await exec('curl', ['-sS', '-T', 'upload.bin', `tftp://127.0.0.1:${p}/up.bin`], out);
  t.equal(curlPut.code, 69, 'curl: WRQ refused');
  t.notOk(fs.existsSync(path.join(root, 'up.bin')), 'nothing written');
  t.equal(h.server.activeTransfers, 0);
});
