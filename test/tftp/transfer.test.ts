import fc from 'fast-check';
import t from 'tap';
import { TimerWheel } from '../../src/tftp/timer-wheel.js';
import { type StepResult, type TransferParams, TransferState } from '../../src/tftp/transfer.js';

const params = (p: Partial<TransferParams>): TransferParams => ({
  size: 2048,
  blksize: 512,
  windowsize: 1,
  timeoutMs: 1000,
  maxTimeoutMs: 4000,
  retries: 3,
  oack: false,
  ...p,
});
const data = (from: number, to: number): StepResult => ({ kind: 'send', send: { kind: 'data', from, to } });

t.test(
  'block count: a size that is a multiple of blksize ends with an empty block (RFC 1350 §6)',
  async (t) => {
    t.equal(new TransferState(params({ size: 0 })).totalBlocks, 1);
    t.equal(new TransferState(params({ size: 511 })).totalBlocks, 1);
    t.equal(new TransferState(params({ size: 512 })).totalBlocks, 2);
    t.equal(new TransferState(params({ size: 1024 })).totalBlocks, 3);
    const s = new TransferState(params({ size: 1024 }));
    t.same(s.blockRange(3), { start: 1024, end: 1024 }, 'last block is empty');
    t.same(s.blockRange(2), { start: 512, end: 1024 });
  },
);

t.test('lock-step transfer without options', async (t) => {
  const s = new TransferState(params({ size: 1000 }));
  t.same(s.start(0), data(1, 1));
  t.equal(s.deadline, 1000);
  t.same(s.onAck(1, 10), data(2, 2));
  t.equal(s.deadline, 1010);
  t.same(s.onAck(2, 20), { kind: 'done' });
  t.ok(s.finished);
  t.equal(s.bytesAcked, 1000);
  t.same(s.onAck(2, 30), { kind: 'ignore' }, 'late duplicate after completion');
});

t.test('OACK must be acknowledged with ACK 0 before DATA 1', async (t) => {
  const s = new TransferState(params({ oack: true }));
  t.same(s.start(0), { kind: 'send', send: { kind: 'oack' } });
  t.notOk(s.confirmed);
  t.same(s.onAck(1, 5), { kind: 'ignore' }, 'ACK 1 before ACK 0');
  t.same(s.onTimeout(1000), { kind: 'send', send: { kind: 'oack' } }, 'OACK is retransmitted');
  t.same(s.onAck(0, 1100), data(1, 1));
  t.ok(s.confirmed);
  t.same(s.onAck(0, 1101), { kind: 'ignore' }, 'duplicate ACK 0');
});

t.test("duplicate ACKs never cause a retransmission (no sorcerer's apprentice)", async (t) => {
  const s = new TransferState(params({ size: 5000 }));
  s.start(0);
  t.same(s.onAck(1, 1), data(2, 2));
  t.same(s.onAck(1, 2), { kind: 'ignore' }, 'a delayed duplicate of ACK 1 does not resend block 2');
  t.same(s.onAck(1, 3), { kind: 'ignore' });
  t.same(s.onAck(7, 4), { kind: 'ignore' }, 'ACK for a block never sent');
  t.equal(s.retransmittedBlocks, 0);
  t.same(s.onAck(2, 5), data(3, 3));
});

t.test("a re-ACK after the client's own timeout retransmits the lost block at once (issue 13)", async (t) => {
  const s = new TransferState(params({ size: 50_000, timeoutMs: 1000, maxTimeoutMs: 8000, retries: 5 }));
  s.start(0);
  for (let b = 1; b < 35; b++) s.onAck(b, b);
  t.same(s.onAck(35, 100), data(36, 36), 'block 36 goes out (and is lost)');
  t.same(
    s.onAck(35, 150),
    { kind: 'ignore' },
    'a duplicate within the holdoff (crossing our send) is ignored',
  );
  t.same(s.onAck(35, 1100), data(36, 36), "the client's timeout re-ACK resends 36 at once");
  t.equal(s.deadline, 2100, 'our timer restarts from that send, without backoff');
  t.same(s.onAck(35, 1150), { kind: 'ignore' }, 'and its echo does not resend again');
  t.same(s.onAck(34, 2200), { kind: 'ignore' }, 'an older ACK is stale, not a re-ACK');
  t.same(s.onAck(35, 2100), data(36, 36), 'every further re-ACK after the holdoff resends');
  t.equal(s.retransmittedBlocks, 2);
  t.equal(s.dupAckRetransmits, 2);
  t.same(s.onAck(36, 2101), data(37, 37), 'recovered');
  t.same(s.onAck(36, 2102), { kind: 'ignore' }, "the duplicate of the recovered block's ACK is ignored");
});

t.test('re-ACKs never multiply the traffic: at most one window per holdoff', async () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 5000 }), { maxLength: 200 }), (times) => {
      const s = new TransferState(params({ size: 50_000, timeoutMs: 1000, retries: 100 }));
      s.start(0);
      s.onAck(1, 0);
      let sends = 0;
      for (const at of [...times].sort((a, b) => a - b)) if (s.onAck(1, at).kind === 'send') sends++;
      return sends <= Math.floor(5000 / 200) + 1;
    }),
  );
});

t.test('timeouts retransmit the window with exponential backoff, then give up', async (t) => {
  const s = new TransferState(params({ size: 5000, windowsize: 4, retries: 3 }));
  t.same(s.start(0), data(1, 4));
  t.same(s.onTimeout(1000), data(1, 4));
  t.equal(s.deadline, 3000, 'interval doubled to 2 s');
  t.same(s.onTimeout(3000), data(1, 4));
  t.equal(s.deadline, 7000, 'then 4 s');
  t.same(s.onTimeout(7000), data(1, 4));
  t.equal(s.deadline, 11000, 'capped at maxTimeoutMs');
  const fast = new TransferState(params({ timeoutMs: 3000, maxTimeoutMs: 1000, retries: 3 }));
  fast.start(0);
  fast.onTimeout(3000);
  t.equal(fast.deadline, 9000, 'the ceiling is never below twice the first interval');
  fast.onTimeout(9000);
  t.equal(fast.deadline, 15000);
  t.equal(s.retransmittedBlocks, 12);
  t.same(s.onTimeout(11000), { kind: 'gave-up' });
  t.ok(s.finished);
});

t.test('progress resets the backoff and the retry budget', async (t) => {
  const s = new TransferState(params({ size: 5000, retries: 1 }));
  s.start(0);
  s.onTimeout(1000);
  t.same(s.onAck(1, 2500), data(2, 2));
  t.equal(s.deadline, 3500, 'interval back to 1 s');
  t.same(s.onTimeout(3500), data(2, 2), 'a fresh retry is available');
});

t.test('windowsize (RFC 7440): slide on a full-window ACK, go back on a partial one', async (t) => {
  const s = new TransferState(params({ size: 512 * 20 - 1, windowsize: 4 })); // 20 blocks
  t.same(s.start(0), data(1, 4));
  t.same(s.onAck(4, 1), data(5, 8));
  t.same(s.onAck(6, 2), data(7, 10), 'client lost block 7: restart after 6');
  t.same(s.onAck(6, 3), { kind: 'ignore' }, 'duplicate partial ACK ignored');
  t.same(s.onAck(5, 4), { kind: 'ignore' }, 'stale ACK below the acknowledged block ignored');
  t.same(s.onAck(10, 5), data(11, 14));
  t.same(s.onAck(14, 6), data(15, 18));
  t.same(s.onAck(18, 7), data(19, 20), 'the last window is short');
  t.same(s.onAck(20, 8), { kind: 'done' });
});

t.test('block numbers wrap past 65535 (to 0) and the transfer still ends exactly', async (t) => {
  const blocks = 65535 + 10;
  const s = new TransferState(params({ size: blocks * 8 - 1, blksize: 8, windowsize: 16 }));
  let step = s.start(0);
  const wireSeen: number[] = [];
  let now = 0;
  while (step.kind === 'send' && step.send.kind === 'data') {
    for (let b = step.send.from; b <= step.send.to; b++)
      if (b >= 65534 && b <= 65538) wireSeen.push(TransferState.wire(b));
    step = s.onAck(TransferState.wire(step.send.to), ++now);
  }
  t.same(step, { kind: 'done' });
  t.equal(s.lastAcked, blocks);
  t.same(wireSeen, [65534, 65535, 0, 1, 2]);
  t.equal(s.bytesAcked, blocks * 8 - 1);
});

t.test('property: arbitrary ACK/timeout sequences keep the state sane', async (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 20_000 }),
      fc.integer({ min: 1, max: 16 }),
      fc.boolean(),
      fc.array(fc.oneof(fc.integer({ min: 0, max: 0xffff }), fc.constant(-1)), { maxLength: 200 }),
      (size, windowsize, oack, events) => {
        const s = new TransferState(params({ size, blksize: 64, windowsize, oack, retries: 1000 }));
        let now = 0;
        s.start(now);
        let prev = 0;
        for (const e of events) {
          now += 10;
          const step = e < 0 ? s.onTimeout(now) : s.onAck(e, now);
          if (step.kind === 'send' && step.send.kind === 'data') {
            if (step.send.from !== s.lastAcked + 1) return false;
            if (step.send.to > s.totalBlocks || step.send.to - step.send.from + 1 > windowsize) return false;
          }
          if (s.lastAcked < prev || s.lastAcked > s.totalBlocks || s.lastAcked > s.lastSent) return false;
          prev = s.lastAcked;
        }
        return true;
      },
    ),
    { numRuns: 3000 },
  );
  t.pass();
});

/**
 * A lossy channel between the state machine and an RFC 7440 receiver, on a virtual clock: the
 * transfer must complete with the exact bytes for any loss pattern that is not total.
 */
function simulate(size: number, windowsize: number, lossRate: number, seed: number) {
  let rnd = seed >>> 0 || 1;
  const lose = () => {
    rnd ^= rnd << 13;
    rnd ^= rnd >>> 17;
    rnd ^= rnd << 5;
    return (rnd >>> 0) / 2 ** 32 < lossRate;
  };
  const s = new TransferState(
    params({ size, blksize: 16, windowsize, oack: true, retries: 50, timeoutMs: 100, maxTimeoutMs: 400 }),
  );
  let now = 0;
  let expected = 1;
  let received = 0;
  let inWindow = 0;
  let gapAcked = false;
  let receiverDone = false;
  const acks: number[] = [];
  const deliver = (step: StepResult): StepResult | undefined => {
    if (step.kind === 'ignore') return undefined;
    if (step.kind !== 'send') return step;
    if (step.send.kind === 'oack') {
      if (!lose()) acks.push(0);
      return undefined;
    }
    for (let b = step.send.from; b <= step.send.to; b++) {
      if (lose()) continue;
      const len = s.blockRange(b).end - s.blockRange(b).start;
      if (b === expected) {
        expected++;
        received += len;
        inWindow++;
        gapAcked = false;
        if (len < 16) receiverDone = true;
        if (len < 16 || inWindow >= windowsize) {
          inWindow = 0;
          if (!lose()) acks.push(TransferState.wire(b));
        }
      } else if (b === expected - 1 || (b > expected && !gapAcked)) {
        // Re-acknowledge a repeated last block (our ACK was lost); report a gap once.
        if (b > expected) gapAcked = true;
        inWindow = 0;
        if (!lose()) acks.push(TransferState.wire(expected - 1));
      }
    }
    return undefined;
  };
  let end = deliver(s.start(now));
  while (!end) {
    const ack = acks.shift();
    if (ack !== undefined) {
      now += 1;
      end = deliver(s.onAck(ack, now));
    } else {
      now = s.deadline;
      end = deliver(s.onTimeout(now));
    }
  }
  return { end, received, receiverDone, retransmitted: s.retransmittedBlocks };
}

t.test('simulation: 10% loss each way, windowsizes 1/4/16, transfers complete exactly', async (t) => {
  for (const w of [1, 4, 16]) {
    for (const seed of [1, 2, 3, 4, 5]) {
      const r = simulate(16 * 300 + 5, w, 0.1, seed * 7919 + w);
      t.same(r.end, { kind: 'done' }, `w=${w} seed=${seed}`);
      t.equal(r.received, 16 * 300 + 5);
      t.ok(r.receiverDone);
      t.ok(r.retransmitted > 0, 'loss did cause retransmissions');
    }
  }
});

t.test('simulation: a receiver that vanishes makes the sender give up', async (t) => {
  const r = simulate(1000, 4, 1, 42);
  t.same(r.end, { kind: 'gave-up' });
});

interface Item {
  deadline: number;
  wheelTick: number;
  id: number;
}

t.test(
  'timer wheel: fires at the deadline (tick resolution), re-files moved deadlines, removes',
  async (t) => {
    const w = new TimerWheel<Item>(10, 0);
    const a: Item = { deadline: 25, wheelTick: -1, id: 1 };
    const b: Item = { deadline: 100, wheelTick: -1, id: 2 };
    const c: Item = { deadline: 40, wheelTick: -1, id: 3 };
    w.schedule(a);
    w.schedule(b);
    w.schedule(c);
    t.equal(w.size, 3);
    const fired: number[] = [];
    const fire = (i: Item) => fired.push(i.id);
    w.advance(20, fire);
    t.same(fired, [], 'nothing due at 20');
    w.advance(30, fire);
    t.same(fired, [1], 'a due at 25 fires by tick 30');
    b.deadline = 35; // earlier: must move
    w.schedule(b);
    c.deadline = 70; // later: stays filed, re-filed when its old tick comes
    w.schedule(c);
    w.advance(40, fire);
    t.same(fired, [1, 2]);
    t.equal(w.size, 1);
    w.advance(60, fire);
    t.same(fired, [1, 2], 'c moved to 70 did not fire at its old tick');
    w.remove(c);
    w.advance(200, fire);
    t.same(fired, [1, 2], 'removed item never fires');
    t.equal(w.size, 0);
  },
);

t.test('timer wheel: a long stall fires everything due, in one pass', async (t) => {
  const w = new TimerWheel<Item>(1, 0);
  const items = Array.from({ length: 1000 }, (_, i) => ({ deadline: 5 + i * 3, wheelTick: -1, id: i }));
  for (const i of items) w.schedule(i);
  const fired: number[] = [];
  w.advance(1_000_000, (i) => fired.push(i.id));
  t.equal(fired.length, 1000);
  t.same(fired.slice(0, 3), [0, 1, 2], 'in deadline order');
  const late = { deadline: 10, wheelTick: -1, id: 9 };
  w.schedule(late); // deadline in the past: due at the next tick
  w.advance(1_000_001, (i) => fired.push(i.id));
  t.equal(fired.at(-1), 9);
});
