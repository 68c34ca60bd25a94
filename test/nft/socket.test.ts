import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { createMemoryLogger } from '../../src/log.js';
import { NLM_F_ACK, NLM_F_DUMP_INTR, NLM_F_MULTI } from '../../src/nft/netlink/constants.js';
import { encodeAck, encodeMessage } from '../../src/nft/netlink/message.js';
import { NetlinkSocket } from '../../src/nft/netlink/socket.js';
import { newRule, newTable } from '../../src/nft/tables/messages.js';
import { commitNftBatch } from '../../src/nft/netlink/batch.js';
import { isRoot } from '../helpers/netns.js';
import { dumpReply, fakeFactory } from './fake-kernel.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const msg = (describe: string) => ({ type: 0x0a01, flags: 0, payload: Buffer.alloc(4), describe });

t.test('nothing a listener throws reaches the binding (it would abort the process)', async (t) => {
  const logger = createMemoryLogger();
  const f = fakeFactory();
  const sock = new NetlinkSocket({
    name: 'events',
    logger,
    rawFactory: f,
    onMessage: () => {
      throw new Error('consumer bug');
    },
  });
  const raw = f.sockets[0]!;
  t.doesNotThrow(
    () => raw.deliver(encodeMessage({ type: 0x100, flags: 0, seq: 0, payload: Buffer.alloc(8) })),
    'listener exception contained',
  );
  t.doesNotThrow(
    () => raw.deliver(Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 255, 255, 255, 255, 0, 0, 0, 0, 9])),
    'garbage contained',
  );
  t.doesNotThrow(
    () =>
      raw.deliver(
        Buffer.from(encodeMessage({ type: 0x100, flags: 0, seq: 0, payload: Buffer.alloc(4) })),
        77,
      ),
    'user-port datagram contained',
  );
  t.equal(sock.stats.listenerErrors, 1);
  t.equal(sock.stats.malformed, 2);
  t.ok(logger.records.some((r) => r.event === 'netlink.listener_failed'));
  sock.close();
});

t.test('ENOBUFS is an overrun, not a crash; a poll error closes the socket and says so', async (t) => {
  const f = fakeFactory();
  let overruns = 0;
  let closed = '';
  const sock = new NetlinkSocket({
    name: 'events',
    logger: createMemoryLogger(),
    rawFactory: f,
    recvBufferBytes: 8 << 20,
    groups: [1],
    onOverrun: () => overruns++,
    onClosed: (r) => (closed = r),
  });
  const raw = f.sockets[0]!;
  t.same(raw.groups, [1]);
  t.equal(sock.recvBufferBytes, 8 << 20, 'the kernel doubles the capped request');
  t.doesNotThrow(() => raw.failRecv());
  t.doesNotThrow(() => raw.failRecv());
  t.equal(overruns, 2);
  t.equal(sock.stats.overruns, 2);
  t.notOk(sock.isClosed);
  const pending = sock.request(msg('probe'));
  raw.respond = () => [];
  t.doesNotThrow(() => raw.pollError());
  t.ok(sock.isClosed);
  t.match(closed, /EBADF/);
  await t.rejects(pending, { code: 'GH_NETLINK' }, 'pending requests fail at once');
});

t.test('requests, batches and dumps match answers by sequence number', async (t) => {
  const f = fakeFactory();
  const sock = new NetlinkSocket({
    name: 'nftables',
    logger: createMemoryLogger(),
    rawFactory: f,
    timeoutMs: 300,
  });
  const raw = f.sockets[0]!;
  await sock.request(msg('ok'));

  raw.respond = (m) =>
    m.flags & NLM_F_ACK ? [encodeAck({ errno: m.type === 0x0a06 ? 2 : 0, request: m })] : [];
  const batch = [
    newTable({ family: 1, name: 'g' }),
    newRule({ family: 1, table: 'g', chain: 'nochain', exprs: [] }, 'the rule'),
  ];
  await t.rejects(commitNftBatch(sock, batch), {
    code: 'GH_NETLINK',
    message:
      /add rule inet g nochain \(the rule\) \(message 2 of 2; whole batch rolled back\) failed with ENOENT/,
  });
  const sent = raw.sent.slice(-4);
  t.same(
    sent.map((m) => m.type),
    [0x10, 0x0a00, 0x0a06, 0x11],
    'one datagram: BEGIN, messages, END',
  );
  t.ok(
    sent.slice(1, 3).every((m) => m.flags & NLM_F_ACK),
    'an ack asked for each message',
  );

  raw.respond = (m) => (m.type === 0x10 ? [encodeAck({ errno: 1, request: m })] : []);
  const origSend = raw.send.bind(raw);
  raw.send = (b, o, cb) => {
    origSend(b, o, cb);
    const begin = raw.sent.at(-4)!;
    setImmediate(() => raw.deliver(encodeAck({ errno: 1, request: begin })));
  };
  await t.rejects(commitNftBatch(sock, batch), {
    message: /batch header\) failed with EPERM: Gatehouse needs root or CAP_NET_ADMIN/,
  });
  raw.send = origSend;

  raw.respond = (m) => [
    ...dumpReply(m, [
      { type: 0x0a00, flags: 0, payload: Buffer.alloc(4) },
      { type: 0x0a00, flags: NLM_F_DUMP_INTR, payload: Buffer.alloc(4) },
    ]),
  ];
  const d = await sock.dump(msg('list'));
  t.equal(d.messages.length, 2);
  t.ok(d.interrupted, 'NLM_F_DUMP_INTR reported so callers retry');
  t.ok(d.messages.every((m) => m.flags & NLM_F_MULTI));

  raw.respond = () => [];
  await t.rejects(sock.request(msg('silence')), { code: 'GH_NETLINK_TIMEOUT' });
  sock.close();
});

t.test(
  'the binding faults are real: a throwing listener aborts, our socket survives',
  { skip: isRoot ? false : 'needs root (netlink to nf_tables)' },
  async (t) => {
    const script = path.join(here, 'fixtures/binding-fault.ts');
    const bare = spawnSync(process.execPath, ['--import', 'tsx', script, 'bare'], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    t.not(
      bare.status,
      0,
      `bare RawNetlinkSocket with a throwing listener kills the process (status ${bare.status}, signal ${bare.signal})`,
    );
    t.notMatch(bare.stdout, /survived/);
    const wrapped = spawnSync(process.execPath, ['--import', 'tsx', script, 'wrapped'], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    t.equal(wrapped.status, 0, wrapped.stderr);
    t.match(wrapped.stdout, /survived/);
  },
);
