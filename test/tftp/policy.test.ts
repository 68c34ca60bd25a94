import t from 'tap';
import type { RequestPacket, TftpOption } from '../../src/tftp/codec.js';
import { checkRequest, confinePath, type NegotiationLimits, planTransfer } from '../../src/tftp/policy.js';

const rrq = (filename: string, mode = 'octet', options: TftpOption[] = []): RequestPacket => ({
  op: 'RRQ',
  filename,
  mode,
  options,
});
const limits: NegotiationLimits = {
  maxBlksize: 1468,
  maxWindowsize: 64,
  timeoutMs: 1000,
  maxTimeoutMs: 4000,
};
const found = { kind: 'found' as const, size: 74_320 };
const opts = (o: Record<string, string>): TftpOption[] =>
  Object.entries(o).map(([name, value]) => ({ name, value }));

t.test('path confinement table', async (t) => {
  const table: Array<[string, string | undefined]> = [
    ['prologin.kpxe', 'prologin.kpxe'],
    ['/prologin.kpxe', 'prologin.kpxe'], // absolute = relative to the root, like tftp-hpa --secure
    ['//srv//tftp/./arch.kpxe', 'srv/tftp/arch.kpxe'],
    ['boot/x86/./ipxe.efi', 'boot/x86/ipxe.efi'],
    ['../../etc/passwd', undefined],
    ['/../etc/passwd', undefined],
    ['boot/../../etc/passwd', undefined],
    ['boot/..', undefined],
    ['..', undefined],
    ['...', '...'], // a legal file name, not a parent reference
    ['..foo', '..foo'],
    ['/', undefined],
    ['.', undefined],
    ['a\nb', undefined],
    ['a\u007fb', undefined],
    ['pxelinux.cfg/01-52-54-00-12-34-56', 'pxelinux.cfg/01-52-54-00-12-34-56'],
  ];
  for (const [input, want] of table) t.equal(confinePath(input), want, JSON.stringify(input));
});

t.test('checkRequest refuses writes, unknown modes and escaping paths with the right codes', async (t) => {
  t.same(checkRequest(rrq('prologin.kpxe')), { kind: 'accept', relative: 'prologin.kpxe', mode: 'octet' });
  t.same(checkRequest(rrq('notes.txt', 'netascii')), {
    kind: 'accept',
    relative: 'notes.txt',
    mode: 'netascii',
  });
  t.match(checkRequest({ ...rrq('x'), op: 'WRQ' }), { kind: 'refuse', code: 2, reason: 'write-refused' });
  t.match(checkRequest(rrq('x', 'mail')), { kind: 'refuse', code: 4, reason: 'bad-mode' });
  t.match(checkRequest(rrq('x', '')), { kind: 'refuse', code: 4, reason: 'bad-mode' });
  t.match(checkRequest(rrq('../../etc/passwd')), { kind: 'refuse', code: 2, reason: 'bad-path' });
});

t.test('file lookups map to RFC 1350 error codes', async (t) => {
  t.match(planTransfer([], { kind: 'missing' }, limits), {
    kind: 'refuse',
    code: 1,
    message: 'File not found',
  });
  t.match(planTransfer([], { kind: 'denied' }, limits), { kind: 'refuse', code: 2 });
  t.match(planTransfer([], { kind: 'no-root' }, limits), { kind: 'refuse', code: 1, reason: 'no-root' });
  t.match(planTransfer([], { kind: 'too-large' }, limits), { kind: 'refuse', code: 0 });
});

t.test('no options: no OACK, classic 512-byte lock-step', async (t) => {
  t.same(planTransfer([], found, limits), {
    kind: 'transfer',
    blksize: 512,
    windowsize: 1,
    timeoutMs: 1000,
    oack: null,
  });
});

t.test('negotiation table (RFC 2347/2348/2349/7440)', async (t) => {
  const table: Array<
    [
      string,
      Record<string, string>,
      Partial<{ blksize: number; windowsize: number; timeoutMs: number }>,
      Record<string, string> | null,
    ]
  > = [
    [
      'scenario 46: tsize=0 blksize=1456',
      { tsize: '0', blksize: '1456' },
      { blksize: 1456 },
      { tsize: '74320', blksize: '1456' },
    ],
    ['blksize above the max is clamped', { blksize: '65464' }, { blksize: 1468 }, { blksize: '1468' }],
    ['blksize above the RFC range is clamped', { blksize: '99999' }, { blksize: 1468 }, { blksize: '1468' }],
    ['blksize 8 is the minimum', { blksize: '8' }, { blksize: 8 }, { blksize: '8' }],
    ['blksize below 8 is not acknowledged', { blksize: '7' }, { blksize: 512 }, null],
    ['blksize 0 is not acknowledged', { blksize: '0' }, { blksize: 512 }, null],
    ['non-numeric blksize is not acknowledged', { blksize: '1e3' }, { blksize: 512 }, null],
    ['negative blksize is not acknowledged', { blksize: '-1' }, { blksize: 512 }, null],
    ['absurd tsize value still gets the real size', { tsize: '99999999999' }, {}, null], // >10 digits: ignored
    ['timeout 3 is echoed', { timeout: '3' }, { timeoutMs: 3000 }, { timeout: '3' }],
    ['timeout above the server ceiling is left out', { timeout: '200' }, { timeoutMs: 1000 }, null],
    ['timeout 0 is left out', { timeout: '0' }, { timeoutMs: 1000 }, null],
    ['windowsize clamped', { windowsize: '4096' }, { windowsize: 64 }, { windowsize: '64' }],
    ['windowsize 16', { windowsize: '16' }, { windowsize: 16 }, { windowsize: '16' }],
    ['windowsize 0 left out', { windowsize: '0' }, { windowsize: 1 }, null],
    ['windowsize above RFC range left out', { windowsize: '65536' }, { windowsize: 1 }, null],
    ['unknown options are ignored', { multicast: '', rollover: '0', utimeout: '1000' }, {}, null],
    [
      'order of the client is kept',
      { windowsize: '8', timeout: '2', blksize: '1024', tsize: '0' },
      { windowsize: 8, timeoutMs: 2000, blksize: 1024 },
      { windowsize: '8', timeout: '2', blksize: '1024', tsize: '74320' },
    ],
  ];
  for (const [name, requested, want, oack] of table) {
    const plan = planTransfer(opts(requested), found, limits);
    if (plan.kind !== 'transfer') {
      t.fail(name);
      continue;
    }
    t.match(plan, want, name);
    t.same(
      plan.oack === null ? null : Object.fromEntries(plan.oack.map((o) => [o.name, o.value])),
      oack,
      `${name}: OACK`,
    );
    if (oack)
      t.same(
        plan.oack?.map((o) => o.name),
        Object.keys(oack),
        `${name}: OACK order`,
      );
  }
});
