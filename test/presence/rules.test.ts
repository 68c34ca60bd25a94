import fc from 'fast-check';
import t from 'tap';
import {
  deleteOf,
  NOT_LOGGED_IN,
  type PresenceDirectory,
  PresenceRules,
  TOO_EARLY,
  updateOf,
  WRONG_HOSTNAME,
} from '../../src/presence/rules.js';

const machines: Record<string, string> = {
  'pas-r01p01': 'user',
  'pas-r01p02': 'user',
  'pas-r01p03': 'user',
  srv: 'service',
  laptop: 'orga',
};
const users: Record<string, string> = {
  aproviste: 'user',
  jmarchand: 'user',
  cana_p: 'orga',
  nathalie: 'root',
};
const dir: PresenceDirectory = {
  machines: (h) => (machines[h] ? [{ mtype: machines[h] }] : []),
  users: (l) => (users[l] ? [{ group: users[l] }] : []),
};

function clock(start = 1000) {
  const c = { now: start, advance: (s: number) => (c.now += s) };
  return c;
}

/** Rules past their start-up embargo. */
function ready(timeout = 30) {
  const c = clock();
  const rules = new PresenceRules({ timeout, now: () => c.now });
  c.advance(timeout);
  return { c, rules };
}

t.test('start-up embargo: logins refused for one TIMEOUT, heartbeats accepted', (t) => {
  const c = clock();
  const rules = new PresenceRules({ timeout: 30, now: () => c.now });
  c.advance(29.9);
  t.same(rules.login('aproviste', 'pas-r01p01', dir), {
    refusal: TOO_EARLY,
    counted: 'too_early',
    messages: [],
  });
  t.same(
    rules.heartbeat('jmarchand', 'pas-r01p02'),
    [[updateOf('jmarchand', 'pas-r01p02')]],
    'heartbeat bypasses the embargo',
  );
  c.advance(0.1);
  t.same(rules.login('aproviste', 'pas-r01p01', dir), {
    refusal: null,
    counted: null,
    messages: [[updateOf('aproviste', 'pas-r01p01')]],
  });
  t.end();
});

t.test('login authorisation order and messages (spec §9.2)', (t) => {
  const { rules } = ready();
  t.equal(rules.login('aproviste', 'pas-r01p01', dir).refusal, null);
  const cases: Array<[string, string, string | null, string | null]> = [
    ['aproviste', 'pas-r01p02', 'aproviste is already logged somewhere else', 'already_logged'],
    // "already logged elsewhere" comes before "busy" and before any MDB/UDB check
    ['aproviste', 'nosuch', 'aproviste is already logged somewhere else', 'already_logged'],
    ['jmarchand', 'pas-r01p01', 'pas-r01p01 is busy', 'busy'],
    ['ghost', 'pas-r01p01', 'pas-r01p01 is busy', 'busy'],
    ['ghost', 'nosuch', 'nosuch is not a registered machine', 'machine_not_registered'],
    ['ghost', 'pas-r01p02', 'ghost is not a registered user', 'user_not_registered'],
    ['jmarchand', 'srv', 'jmarchand is not a kind of user that is allowed to log on srv', 'user_not_allowed'],
    [
      'jmarchand',
      'laptop',
      'jmarchand is not a kind of user that is allowed to log on laptop',
      'user_not_allowed',
    ],
  ];
  for (const [login, host, refusal, counted] of cases) {
    t.same(rules.login(login, host, dir), { refusal, counted, messages: [] }, `${login}@${host}`);
  }
  t.same(
    rules.login('aproviste', 'pas-r01p01', dir),
    { refusal: null, counted: 'already_logged', messages: [] },
    'refresh: allowed, counted, silent',
  );
  t.same(
    rules.login('cana_p', 'pas-r01p02', dir).messages,
    [[updateOf('cana_p', 'pas-r01p02')]],
    'organizer on a user machine',
  );
  t.same(rules.login('nathalie', 'srv', dir).refusal, null, 'root on a service machine');
  t.same(Object.fromEntries(rules.list().list), {
    aproviste: 'pas-r01p01',
    cana_p: 'pas-r01p02',
    nathalie: 'srv',
  });
  t.end();
});

t.test('expiry: sessions die TIMEOUT after the last heartbeat; expired logins announced once', (t) => {
  const { c, rules } = ready(30);
  rules.login('aproviste', 'pas-r01p01', dir);
  rules.heartbeat('jmarchand', 'pas-r01p02');
  c.advance(20);
  t.same(rules.heartbeat('jmarchand', 'pas-r01p02'), [], 'refresh heartbeat: no message');
  c.advance(9.99);
  t.same(rules.expire(), []);
  c.advance(0.01);
  t.same(rules.expire(), [[deleteOf('aproviste')]]);
  t.same(rules.expire(), [], 'nothing left to announce');
  t.equal(rules.holderOf('pas-r01p01'), undefined, 'machine freed');
  c.advance(20);
  t.same(rules.list(), { list: new Map(), messages: [[deleteOf('jmarchand')]] }, 'get_list expires first');
  t.end();
});

t.test('heartbeat carries expired logins in the same message, before its own update', (t) => {
  const { c, rules } = ready(30);
  rules.heartbeat('aproviste', 'pas-r01p01');
  c.advance(30);
  t.same(rules.heartbeat('jmarchand', 'pas-r01p02'), [
    [deleteOf('aproviste'), updateOf('jmarchand', 'pas-r01p02')],
  ]);
  c.advance(30);
  t.same(
    rules.heartbeat('jmarchand', 'pas-r01p02'),
    [[deleteOf('jmarchand'), updateOf('jmarchand', 'pas-r01p02')]],
    'own expiry then re-creation',
  );
  t.end();
});

t.test('login announces expiries as a separate message first', (t) => {
  const { c, rules } = ready(30);
  rules.heartbeat('jmarchand', 'pas-r01p02');
  c.advance(30);
  t.same(rules.login('aproviste', 'pas-r01p01', dir).messages, [
    [deleteOf('jmarchand')],
    [updateOf('aproviste', 'pas-r01p01')],
  ]);
  t.end();
});

t.test('displaced-user quirk: newcomer announced, old user deleted but kept until expiry', (t) => {
  const { c, rules } = ready(30);
  rules.heartbeat('aproviste', 'pas-r01p01');
  c.advance(10);
  t.same(rules.heartbeat('jmarchand', 'pas-r01p01'), [
    [deleteOf('aproviste'), updateOf('jmarchand', 'pas-r01p01')],
  ]);
  t.ok(rules.has('aproviste'), 'displaced entry kept');
  t.same(rules.records(), [
    { login: 'aproviste', hostname: 'pas-r01p01' },
    { login: 'jmarchand', hostname: 'pas-r01p01' },
  ]);
  t.equal(rules.login('aproviste', 'pas-r01p02', dir).refusal, 'aproviste is already logged somewhere else');
  c.advance(20);
  // aproviste expires and frees pas-r01p01 although jmarchand holds it (original behaviour)
  t.same(rules.expire(), [[deleteOf('aproviste')]]);
  t.equal(rules.holderOf('pas-r01p01'), undefined);
  t.ok(rules.has('jmarchand'));
  t.end();
});

t.test('moved user: the previous host stays busy', (t) => {
  const { c, rules } = ready(30);
  rules.heartbeat('aproviste', 'pas-r01p01');
  t.same(rules.heartbeat('aproviste', 'pas-r01p02'), [[updateOf('aproviste', 'pas-r01p02')]]);
  t.equal(rules.holderOf('pas-r01p01'), 'aproviste');
  t.equal(rules.login('cana_p', 'pas-r01p01', dir).refusal, 'pas-r01p01 is busy');
  c.advance(30);
  t.same(rules.expire(), [[deleteOf('aproviste')]]);
  t.equal(rules.holderOf('pas-r01p01'), 'aproviste', 'still busy after the user expired');
  t.equal(rules.holderOf('pas-r01p02'), undefined);
  // a heartbeat from the stale host announces the stale holder as deleted
  t.same(rules.heartbeat('cana_p', 'pas-r01p01'), [
    [deleteOf('aproviste'), updateOf('cana_p', 'pas-r01p01')],
  ]);
  t.end();
});

t.test('moving back to the stale host is silent (old holder == login)', (t) => {
  const { rules } = ready(30);
  rules.heartbeat('aproviste', 'pas-r01p01');
  rules.heartbeat('aproviste', 'pas-r01p02');
  t.same(
    rules.heartbeat('aproviste', 'pas-r01p01'),
    [],
    'subscribers still believe pas-r01p02, like the original',
  );
  t.same(Object.fromEntries(rules.currentList()), { aproviste: 'pas-r01p01' });
  t.end();
});

t.test("a displaced user's logout frees the newcomer's machine (original behaviour)", (t) => {
  const { rules } = ready(30);
  rules.heartbeat('aproviste', 'pas-r01p01');
  rules.heartbeat('jmarchand', 'pas-r01p01');
  t.same(rules.logout('aproviste', 'pas-r01p01'), { refusal: null, messages: [[deleteOf('aproviste')]] });
  t.equal(rules.holderOf('pas-r01p01'), undefined);
  t.ok(rules.has('jmarchand'));
  t.end();
});

t.test('logout checks', (t) => {
  const { rules } = ready();
  t.same(rules.logout('aproviste', 'pas-r01p01'), { refusal: NOT_LOGGED_IN, messages: [] });
  rules.login('aproviste', 'pas-r01p01', dir);
  t.same(rules.logout('aproviste', 'pas-r01p02'), { refusal: WRONG_HOSTNAME, messages: [] });
  t.same(rules.logout('aproviste', 'pas-r01p01'), { refusal: null, messages: [[deleteOf('aproviste')]] });
  t.equal(rules.holderOf('pas-r01p01'), undefined);
  t.equal(rules.login('jmarchand', 'pas-r01p01', dir).refusal, null, 'machine free again');
  t.end();
});

t.test('property: published messages replayed by a subscriber match get_list except displaced users', (t) => {
  const logins = ['a', 'b', 'c'];
  const hosts = ['pas-r01p01', 'pas-r01p02', 'pas-r01p03'];
  const localDir: PresenceDirectory = {
    machines: () => [{ mtype: 'user' }],
    users: () => [{ group: 'orga' }],
  };
  const op = fc.oneof(
    fc.record({ k: fc.constant('hb'), l: fc.constantFrom(...logins), h: fc.constantFrom(...hosts) }),
    fc.record({ k: fc.constant('login'), l: fc.constantFrom(...logins), h: fc.constantFrom(...hosts) }),
    fc.record({ k: fc.constant('logout'), l: fc.constantFrom(...logins), h: fc.constantFrom(...hosts) }),
    fc.record({ k: fc.constant('tick'), s: fc.integer({ min: 1, max: 40 }) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
      const { c, rules } = ready(30);
      const feed = new Map<string, string>();
      const apply = (msgs: Array<Array<{ type: string; data: Record<string, unknown> }>>) => {
        for (const m of msgs)
          for (const u of m) {
            if (u.type === 'update') feed.set(u.data.login as string, u.data.hostname as string);
            else feed.delete(u.data.login as string);
          }
      };
      for (const o of ops) {
        if (o.k === 'hb') apply(rules.heartbeat(o.l!, o.h!));
        else if (o.k === 'login') apply(rules.login(o.l!, o.h!, localDir).messages);
        else if (o.k === 'logout') apply(rules.logout(o.l!, o.h!).messages);
        else c.advance(o.s!);
      }
      const { list, messages } = rules.list();
      apply(messages);
      // A subscriber never believes in a session the server has dropped (every removal is
      // announced). Nothing stronger holds in the original: displaced users, moves back to a
      // stale host and a displaced user's logout (which frees the newcomer's machine) all leave
      // subscribers and get_list apart.
      for (const l of feed.keys()) if (!list.has(l)) return false;
      return true;
    }),
  );
  t.end();
});

/**
 * A straight transcription of the original algorithm (full scans, Python dict semantics) to
 * check the optimised rules against: same replies, same messages (deletes within a message
 * compared as a set: the original collected them in a Python set), same get_list.
 */
class ReferenceRules {
  backlog = new Map<string, [number, string]>();
  reverse = new Map<string, string>();
  constructor(
    private readonly timeout: number,
    private readonly now: () => number,
    private readonly start = now(),
  ) {}
  private removeExpired(): Set<string> {
    const now = this.now();
    const out = new Set<string>();
    for (const [l, [exp]] of this.backlog) if (exp <= now) out.add(l);
    for (const l of out) {
      const [, h] = this.backlog.get(l)!;
      this.backlog.delete(l);
      this.reverse.delete(h);
    }
    return out;
  }
  private publishExpired(msgs: unknown[][]) {
    const r = this.removeExpired();
    if (r.size) msgs.push([...r].map(deleteOf));
  }
  private update(l: string, h: string, msgs: unknown[][]) {
    const removed = this.removeExpired();
    const old = this.reverse.get(h);
    this.backlog.set(l, [this.now() + this.timeout, h]);
    this.reverse.set(h, l);
    const msg: unknown[] = [];
    if (old !== l) {
      if (old !== undefined) removed.add(old);
      msg.push(updateOf(l, h));
    }
    const all = [...[...removed].map(deleteOf), ...msg];
    if (all.length) msgs.push(all);
  }
  heartbeat(l: string, h: string) {
    const msgs: unknown[][] = [];
    this.update(l, h, msgs);
    return msgs;
  }
  login(l: string, h: string, d: PresenceDirectory) {
    const msgs: unknown[][] = [];
    this.publishExpired(msgs);
    if (this.now() < this.start + this.timeout) return { refusal: TOO_EARLY, messages: msgs };
    let refusal: string | null = null;
    const cur = this.backlog.get(l);
    if (cur?.[1] === h) refusal = null;
    else if (cur) refusal = `${l} is already logged somewhere else`;
    else if (this.reverse.has(h)) refusal = `${h} is busy`;
    else if (d.machines(h).length !== 1) refusal = `${h} is not a registered machine`;
    else if (d.users(l).length !== 1) refusal = `${l} is not a registered user`;
    else if (d.users(l)[0]!.group === 'user' && d.machines(h)[0]!.mtype !== 'user')
      refusal = `${l} is not a kind of user that is allowed to log on ${h}`;
    if (refusal === null) this.update(l, h, msgs);
    return { refusal, messages: msgs };
  }
  logout(l: string, h: string) {
    const cur = this.backlog.get(l);
    if (!cur) return { refusal: NOT_LOGGED_IN, messages: [] };
    if (cur[1] !== h) return { refusal: WRONG_HOSTNAME, messages: [] };
    this.backlog.delete(l);
    this.reverse.delete(h);
    return { refusal: null, messages: [[deleteOf(l)]] };
  }
  list() {
    const msgs: unknown[][] = [];
    this.publishExpired(msgs);
    return { list: new Map([...this.backlog].map(([l, [, h]]) => [l, h])), messages: msgs };
  }
}

/** Deletes of one message as a sorted set, the rest in order. */
function normalise(messages: unknown[][]): unknown[][] {
  return messages.map((m) => {
    const dels = (m as Array<{ type: string; data: { login: string } }>).filter((u) => u.type === 'delete');
    const rest = (m as Array<{ type: string }>).filter((u) => u.type !== 'delete');
    return [...dels.sort((a, b) => (a.data.login < b.data.login ? -1 : 1)), ...rest];
  });
}

t.test('property: the optimised rules behave exactly like the original algorithm', (t) => {
  const logins = ['aproviste', 'jmarchand', 'cana_p', 'nathalie', 'ghost'];
  const hosts = ['pas-r01p01', 'pas-r01p02', 'srv', 'laptop', 'nosuch'];
  const op = fc.oneof(
    fc.record({
      k: fc.constantFrom('hb', 'hb', 'login', 'logout'),
      l: fc.constantFrom(...logins),
      h: fc.constantFrom(...hosts),
    }),
    fc.record({
      k: fc.constant('tick'),
      s: fc.oneof(fc.integer({ min: 0, max: 12 }), fc.constantFrom(0.25, 0.5, 1.5, 40)),
    }),
    fc.record({ k: fc.constant('list') }),
  );
  fc.assert(
    fc.property(
      fc.array(op, { minLength: 5, maxLength: 80, size: 'large' }),
      fc.constantFrom(3, 5, 10),
      (ops, timeout) => {
        const c = clock();
        const mine = new PresenceRules({ timeout, now: () => c.now });
        const ref = new ReferenceRules(timeout, () => c.now);
        for (const o of ops) {
          let a: { refusal?: string | null; messages: unknown[][]; list?: Map<string, string> };
          let b: typeof a;
          if (o.k === 'hb') {
            a = { messages: mine.heartbeat(o.l!, o.h!) };
            b = { messages: ref.heartbeat(o.l!, o.h!) };
          } else if (o.k === 'login') {
            const r = mine.login(o.l!, o.h!, dir);
            a = { refusal: r.refusal, messages: r.messages };
            b = ref.login(o.l!, o.h!, dir);
          } else if (o.k === 'logout') {
            a = mine.logout(o.l!, o.h!);
            b = ref.logout(o.l!, o.h!);
          } else if (o.k === 'list') {
            a = mine.list();
            b = ref.list();
          } else {
            c.advance((o as { s: number }).s);
            continue;
          }
          a = { ...a, messages: normalise(a.messages) };
          b = { ...b, messages: normalise(b.messages) };
          if (
            JSON.stringify({ ...a, list: a.list && [...a.list] }) !==
            JSON.stringify({ ...b, list: b.list && [...b.list] })
          )
            return false;
        }
        return (
          JSON.stringify(mine.records()) ===
          JSON.stringify([...ref.backlog].map(([login, [, hostname]]) => ({ login, hostname })))
        );
      },
    ),
    { numRuns: 1000 },
  );
  t.pass('1000 random histories agree');
  t.end();
});
