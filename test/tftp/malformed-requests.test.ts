/**
 * Requests that cannot be decoded get an RFC 1350 ERROR instead of silence (as tftpd-hpa and
 * dnsmasq answer), capped per source and overall so forged sources cannot use the server as a
 * reflector (docs/tftp.md "Malformed requests").
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import t from 'tap';
import { decodePacket } from '../../src/tftp/codec.js';
import { tempDir } from '../helpers/tmp.js';
import { missingCommands } from '../helpers/tools.js';
import { makeRoot, metric, RawPeer, startTftp, waitFor } from './helpers.js';

const run = promisify(execFile);
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const z = (s: string) => Buffer.concat([Buffer.from(s, 'latin1'), Buffer.alloc(1)]);
const rrq = (...parts: Buffer[]) => Buffer.concat([hex('0001'), ...parts]);

/** Malformed requests and the RFC 1350 code each gets. */
const GOLDEN: Array<[string, Buffer, number]> = [
  ['duplicate option', rrq(z('boot.img'), z('octet'), z('blksize'), z('512'), z('BLKSIZE'), z('1468')), 8],
  ['mode without its NUL', rrq(z('boot.img'), Buffer.from('octet')), 4],
  ['mode not UTF-8', rrq(z('boot.img'), hex('6f63 ff74 00')), 4],
  ['file name not UTF-8', rrq(hex('626f 6f74 ff 00'), z('octet')), 2],
  ['file name without its NUL', rrq(Buffer.from('boot.img')), 4],
  ['bare opcode', hex('0001'), 4],
  ['empty file name', rrq(z(''), z('octet')), 4],
  ['option without a value', rrq(z('boot.img'), z('octet'), Buffer.from('tsize')), 8],
  ['option name not UTF-8', rrq(z('boot.img'), z('octet'), hex('ff00'), z('1')), 8],
  ['bytes after the options', rrq(z('boot.img'), z('octet'), z('tsize'), z('0'), hex('00 41')), 4],
  ['malformed WRQ', Buffer.concat([hex('0002'), Buffer.from('up.bin')]), 4],
];

t.test('golden malformed requests over real UDP get an ERROR with the expected code', async (t) => {
  const { root } = makeRoot(t, { 'boot.img': 1000 });
  const h = await startTftp(t, { root });
  const peer = await RawPeer.open(t);
  for (const [name, wire, code] of GOLDEN) {
    await peer.send(wire, h.port);
    const { msg, rinfo } = await peer.next(2000);
    const d = decodePacket(msg);
    t.ok(d.ok && d.packet.op === 'ERROR', `${name}: an ERROR packet`);
    if (d.ok && d.packet.op === 'ERROR') {
      t.equal(d.packet.code, code, `${name}: code ${code} (${d.packet.message})`);
      t.ok(d.packet.message.length > 0 && /^[\x20-\x7e]+$/.test(d.packet.message), `${name}: a reason`);
    }
    t.equal(rinfo.port, h.port, `${name}: from the listening port`);
  }
  // Not RRQ/WRQ-shaped: nothing to answer (RFC 1350 only answers requests).
  for (const wire of [hex('0007 0000'), hex('00'), hex('0100 4142 00')]) await peer.send(wire, h.port);
  await new Promise((r) => setTimeout(r, 300));
  t.equal(peer.pending(), 0, 'other garbage is still dropped silently');
  const m = await h.metrics();
  t.equal(metric(m, 'gatehouse_tftp_error_replies_total', { result: 'sent' }), GOLDEN.length);
  t.equal(metric(m, 'gatehouse_tftp_malformed_packets_total', { reason: 'duplicate-option' }), 1);
  await waitFor(
    () => h.gh.logs.filter((l) => l.event === 'tftp.malformed_request').length === GOLDEN.length,
    2000,
    'one log line per malformed request',
  );
  t.match(
    h.gh.logs.find((l) => l.event === 'tftp.malformed_request' && l.reason === 'duplicate-option'),
    { level: 'info', op: 'RRQ', errorCode: 8, replied: true, detail: /blksize appears twice/ },
  );
});

t.test('a flood of malformed requests from one source gets at most its limit of ERRORs', async (t) => {
  const { root } = makeRoot(t, { 'boot.img': 1000 });
  const limits = { perClientBurst: 10, perClientPerSecond: 5, burst: 25, perSecond: 10 };
  const h = await startTftp(t, { root, errorReplies: limits });
  const flood = await RawPeer.open(t);
  const bad = rrq(z('boot.img'), z('octet'), z('blksize'), z('8'), z('blksize'), z('8'));
  const start = performance.now();
  for (let i = 0; i < 2000; i++) {
    await flood.send(bad, h.port);
    if (i % 200 === 0) await new Promise((r) => setImmediate(r));
  }
  await waitFor(
    async () =>
      metric(await h.metrics(), 'gatehouse_tftp_malformed_packets_total', { reason: 'duplicate-option' }) >=
      1900,
    5000,
    'the server to read the flood',
  );
  const seconds = (performance.now() - start) / 1000;
  await new Promise((r) => setTimeout(r, 200));
  const errors = flood.pending();
  const cap = limits.perClientBurst + Math.ceil(limits.perClientPerSecond * seconds) + 1;
  t.ok(
    errors >= 1 && errors <= cap,
    `${errors} ERRORs for 2000 malformed requests in ${seconds.toFixed(2)} s (cap ${cap})`,
  );
  const m = await h.metrics();
  t.ok(metric(m, 'gatehouse_tftp_error_replies_total', { result: 'rate_limited' }) >= 2000 - cap);
  t.ok(
    h.gh.logs.filter((l) => l.event === 'tftp.malformed_request').length <= 20,
    'malformed-request logging is rate-capped',
  );
});

t.test('many sources together are held by the global bucket', async (t) => {
  const { root } = makeRoot(t, { 'boot.img': 1000 });
  const limits = { perClientBurst: 1000, perClientPerSecond: 1000, burst: 25, perSecond: 10 };
  const h = await startTftp(t, { root, errorReplies: limits });
  const bad = rrq(Buffer.from('no-nul'));
  const sources = await Promise.all(Array.from({ length: 8 }, () => RawPeer.open(t)));
  const t0 = performance.now();
  for (let round = 0; round < 25; round++) for (const s of sources) await s.send(bad, h.port);
  await waitFor(
    async () =>
      metric(await h.metrics(), 'gatehouse_tftp_malformed_packets_total', {
        reason: 'unterminated-string',
      }) >= 200,
    5000,
    'the server to read every request',
  );
  await new Promise((r) => setTimeout(r, 200));
  const seconds = (performance.now() - t0) / 1000;
  const total = sources.reduce((n, s) => n + s.pending(), 0);
  const cap = limits.burst + Math.ceil(limits.perSecond * seconds) + 1;
  t.ok(total >= limits.burst && total <= cap, `${total} ERRORs for 200 requests from 8 sources (cap ${cap})`);
});

const skip = missingCommands(['tftp', 'atftp']);

async function timed(cmd: string, args: string[], cwd: string) {
  const start = performance.now();
  try {
    const r = await run(cmd, args, { cwd, timeout: 30_000 });
    return { ms: performance.now() - start, out: r.stdout + r.stderr, code: 0 };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; code?: number };
    return {
      ms: performance.now() - start,
      out: `${err.stdout ?? ''}${err.stderr ?? ''}`,
      code: err.code ?? -1,
    };
  }
}

t.test('real clients asking for a refused file name get an error at once', { skip }, async (t) => {
  const { root } = makeRoot(t, { 'boot.img': 1000 });
  const h = await startTftp(t, { root });
  const cwd = tempDir(t, 'ghtftp-bad-');
  const p = String(h.port);
  // A Latin-1 byte in the name: not UTF-8, refused by the decoder (silence before).
  const latin1 = `"$(printf 'boot\\351.img')"`;
  const hpa = await timed('bash', ['-c', `tftp 127.0.0.1 ${p} -m binary -c get ${latin1} out1`], cwd);
  t.match(hpa.out, /Error code 2: File name is not UTF-8/, 'tftp-hpa: error 2 with the reason');
  t.ok(hpa.ms < 3000, `tftp-hpa told within ${hpa.ms.toFixed(0)} ms`);
  const at = await timed('bash', ['-c', `atftp -g -r ${latin1} -l out2 127.0.0.1 ${p}`], cwd);
  t.match(at.out, /File name is not UTF-8/, 'atftp: the reason');
  t.not(at.code, 0);
  t.ok(at.ms < 3000, `atftp told within ${at.ms.toFixed(0)} ms`);
  const upward = await timed(
    'tftp',
    ['127.0.0.1', p, '-m', 'binary', '-c', 'get', '../../etc/passwd', 'out3'],
    cwd,
  );
  t.match(upward.out, /Error code 2/, 'tftp-hpa: ../ refused');
  t.ok(upward.ms < 3000, `within ${upward.ms.toFixed(0)} ms`);
});
