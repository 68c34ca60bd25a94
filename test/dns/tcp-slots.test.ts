/**
 * The TCP connection-slot policy alone (src/dns/tcp-slots.ts): at a limit the oldest idle
 * connection goes, a busy one never does, and the limits always hold.
 */
import fc from 'fast-check';
import t from 'tap';
import { TcpSlots } from '../../src/dns/tcp-slots.js';

t.test('oldest idle of the client, then of the biggest holder; busy ones never', async (t) => {
  const slots = new TcpSlots<string>(() => ({ maxConnections: 5, maxConnectionsPerClient: 3 }));
  for (const c of ['a1', 'a2', 'a3']) {
    t.same(slots.admit('A'), { evicted: [] });
    slots.add('A', c);
  }
  slots.busy('a1');
  slots.idle('a2'); // a2 became idle after a3: a3 is now the oldest idle
  t.same(slots.admit('A'), { evicted: [{ conn: 'a3', reason: 'idle_evicted_per_client' }] });
  slots.add('A', 'a4');
  slots.admit('B');
  slots.add('B', 'b1');
  slots.admit('B');
  slots.add('B', 'b2');
  // Full (5): A holds 3, B 2 — a newcomer C takes A's oldest idle (a2).
  t.same(slots.admit('C'), { evicted: [{ conn: 'a2', reason: 'idle_evicted_global' }] });
  slots.add('C', 'c1');
  for (const c of ['a4', 'b1', 'b2', 'c1']) slots.busy(c);
  t.same(slots.admit('D'), { evicted: [], refused: 'max_connections' }, 'all busy: refused');
  t.same(slots.admit('A'), { evicted: [], refused: 'max_connections' }, 'A too: everything busy');
  slots.remove('b1');
  slots.remove('b2');
  slots.admit('A');
  slots.add('A', 'a5');
  slots.busy('a5');
  t.same(slots.admit('A'), { evicted: [], refused: 'per_client' }, 'A at its own limit, all busy: refused');
  slots.idle('a1');
  t.same(
    slots.admit('A'),
    { evicted: [{ conn: 'a1', reason: 'idle_evicted_per_client' }] },
    'idle again: evictable',
  );
});

type Op = { kind: 'open'; client: number } | { kind: 'busy' | 'idle' | 'close'; pick: number };

t.test('property: limits hold and only idle connections are evicted', async () => {
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('open' as const), client: fc.nat(3) }),
    fc.record({
      kind: fc.constantFrom('busy' as const, 'idle' as const, 'close' as const),
      pick: fc.nat(100),
    }),
  );
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 1, max: 4 }),
      fc.array(op, { maxLength: 200 }),
      (max, per, ops) => {
        const slots = new TcpSlots<number>(() => ({ maxConnections: max, maxConnectionsPerClient: per }));
        const open = new Map<number, { client: number; busy: boolean }>();
        let next = 0;
        for (const o of ops) {
          const ids = [...open.keys()];
          if (o.kind === 'open') {
            const a = slots.admit(String(o.client));
            for (const e of a.evicted) {
              if (open.get(e.conn)?.busy !== false) return false; // evicted a busy or unknown connection
              open.delete(e.conn);
            }
            if (a.refused) {
              const mine = [...open.values()].filter((c) => c.client === o.client);
              const stillRoom = mine.length < per && open.size < max;
              if (stillRoom) return false; // refused although there was room
              continue;
            }
            slots.add(String(o.client), next);
            open.set(next++, { client: o.client, busy: false });
          } else if (ids.length > 0) {
            const id = ids[o.pick % ids.length]!;
            if (o.kind === 'close') {
              slots.remove(id);
              open.delete(id);
            } else {
              open.get(id)!.busy = o.kind === 'busy';
              if (o.kind === 'busy') slots.busy(id);
              else slots.idle(id);
            }
          }
          if (open.size > max || slots.size !== open.size) return false;
          for (let c = 0; c <= 3; c++) {
            if ([...open.values()].filter((x) => x.client === c).length > per) return false;
          }
        }
        return true;
      },
    ),
    { numRuns: 2000 },
  );
});
