import t from 'tap';
import { generateToken } from '../../src/sync/timeauth.js';
import { createHaPair, HA_FLOATING as FLOATING, until } from '../helpers/ha-pair.js';
import { needsRoot } from '../helpers/netns.js';
import { tempDir } from '../helpers/tmp.js';
import { missingCommands } from '../helpers/tools.js';

/**
 * A hot-standby pair in namespaces (issue 16): two gateways `ha-g1`, `ha-g2`, each running
 * Gatehouse and keepalived (VRRPv3, 200 ms advertisements, the config of contrib/keepalived),
 * and a client `ha-c0` on the same bridge that only ever talks to the floating address.
 * kill -9 of the primary (Gatehouse and keepalived: the gateway dies) in the middle of a
 * registration storm; every acknowledged registration must be on the new primary.
 */

const SUB = 'demo-mdbsync-sub';
const missing = needsRoot || missingCommands(['keepalived', 'curl', 'dig']);

t.test(
  'hot standby in namespaces: kill -9 of the primary during a registration storm',
  { skip: missing },
  async (t) => {
    const pair = await createHaPair({ prefix: 'ha', root: tempDir(t, 'gatehouse-ha-') });
    t.teardown(() => pair.destroy());
    const { g1, g2, client, curl, status } = pair;
    const OWN = { g1: g1.address, g2: g2.address };

    // g1 first, so it becomes MASTER; then g2.
    await pair.start();

    // Writes on the primary appear on the standby.
    const reg = async (i: number) => {
      const mac = `52:54:00:77:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
      const r = await curl([
        '-H',
        'Host: netboot',
        `http://${FLOATING}/register?hostname=h${i}&mac=${mac}&rfs=0&hfs=0&room=pasteur&mtype=user`,
      ]);
      return r.stdout.includes('Registration succeeded');
    };
    t.ok(await reg(0), 'a registration through the floating address');
    const q = await curl(['-H', 'Host: mdb', `http://${OWN.g2}/call/query?hostname=h0`]);
    t.match(q.stdout, /"hostname": "h0"/, 'the standby has it (sync mode: before the answer)');
    const dig0 = await client.exec('dig', ['@' + OWN.g2, '+short', '+time=2', '+tries=1', 'h0.prolo', 'A']);
    t.match(
      dig0.stdout.trim(),
      /^\d+\.\d+\.\d+\.\d+$/,
      "the standby's DNS answers from the replicated store",
    );
    const refused = await curl([
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '-H',
      'Host: netboot',
      `http://${OWN.g2}/register?hostname=x&mac=52:54:00:77:ff:ff&rfs=0&hfs=0&room=pasteur&mtype=user`,
    ]);
    t.equal(refused.stdout, '503', 'the standby refuses registrations');

    // An mdbsync subscriber notes the sequence it has seen.
    const pollUrl = (since: number) =>
      `http://${FLOATING}/poll?data=${encodeURIComponent('{}')}&hmac=${encodeURIComponent(generateToken(SUB, null))}&seq=1&since=${since}`;
    const first = await curl(['-m', '1', '-D', '-', '-H', 'Host: mdbsync', pollUrl(0)]);
    const seenSeq = Number(/x-gatehouse-seq: (\d+)/i.exec(first.stdout)?.[1]);
    t.ok(seenSeq > 0, `the subscriber saw seq ${seenSeq}`);

    // The storm: one registration after another; kill -9 the primary gateway in the middle.
    const acked: number[] = [];
    let stop = false;
    let lastOldAnswer = 0;
    let firstNewAnswer = 0;
    let killedAt = 0;
    const storm = (async () => {
      for (let i = 1; !stop && i < 5000; i++) {
        if (await reg(i)) {
          acked.push(i);
          if (killedAt === 0) lastOldAnswer = Date.now();
          else if (firstNewAnswer === 0) firstNewAnswer = Date.now();
        }
      }
    })();
    await until('20 registrations acknowledged', () => acked.length >= 20);
    killedAt = Date.now();
    await g1.kill();
    await until('registrations are acknowledged again', () => firstNewAnswer > 0, 30_000);
    await until('10 more registrations', () => acked.length >= 40 && firstNewAnswer > 0, 30_000);
    stop = true;
    await storm;
    t.ok(await g2.holdsFloating(), 'g2 holds the floating address');
    const takeoverMs = firstNewAnswer - lastOldAnswer;
    t.ok(takeoverMs < 10_000, `takeover ${takeoverMs} ms (last answer of g1 → first of g2)`);

    // Every acknowledged registration is on the new primary.
    const all2 = await curl(['-H', 'Host: mdb', `http://${FLOATING}/call/query`]);
    const names = new Set([...all2.stdout.matchAll(/"hostname": "(h\d+)"/g)].map((m) => m[1]));
    const lost = acked.filter((i) => !names.has(`h${i}`));
    t.same(lost, [], `all ${acked.length} acknowledged registrations are on g2`);

    // DNS and netboot answer again on the floating address.
    const last = acked[acked.length - 1]!;
    const dig = await client.exec('dig', [
      '@' + FLOATING,
      '+short',
      '+time=2',
      '+tries=3',
      `h${last}.prolo`,
      'A',
    ]);
    t.match(dig.stdout.trim(), /^\d+\.\d+\.\d+\.\d+$/, 'DNS answers on the floating address');
    const boot = await curl(['-H', 'Host: netboot', `http://${FLOATING}/bootstrap`]);
    t.match(boot.stdout, /^#!ipxe/, 'netboot answers on the floating address');

    // The subscriber resumes with ?since= on the new primary, without a snapshot.
    const resumed = await curl(['-m', '1', '-D', '-', '-H', 'Host: mdbsync', pollUrl(seenSeq)]);
    t.match(resumed.stdout, /x-gatehouse-resumed: true/i, 'resumed without a snapshot');
    t.match(resumed.stdout, new RegExp(`"h${last}"`), 'and got the registrations made since');

    // The old primary comes back: it stays standby and catches up.
    await g1.startGatehouse();
    g1.startKeepalived();
    await until(
      'g1 caught up',
      async () => {
        const [s1, s2] = [await status(g1), await status(g2)];
        return s1.role === 'standby' && s1.seq === s2.seq && s1.appliedR === s2.appliedR;
      },
      30_000,
    );
    await new Promise((r) => setTimeout(r, 1500));
    t.notOk(await g1.holdsFloating(), 'g1 did not take the address back (nopreempt)');
    t.equal((await status(g1)).role, 'standby');
    t.ok((await status(g2)).term! > 1, 'g2 is primary in a newer term');
    t.ok(await reg(9999), 'writes still go to g2');
  },
);

t.test(
  'partition: both gateways take the address; after healing the side that keeps it lost nothing',
  { skip: missing },
  async (t) => {
    const pair = await createHaPair({ prefix: 'hap', root: tempDir(t, 'gatehouse-hap-') });
    t.teardown(() => pair.destroy());
    const { g1, g2, curl, status } = pair;
    await pair.start();
    const reg = async (addr: string, name: string, i: number) => {
      const mac = `52:54:00:78:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
      const r = await curl([
        '-H',
        'Host: netboot',
        `http://${addr}/register?hostname=${name}&mac=${mac}&rfs=0&hfs=0&room=pasteur&mtype=user`,
      ]);
      return r.stdout.includes('Registration succeeded');
    };
    t.ok(await reg(g1.address, 'before', 0));

    // The gateways stop hearing each other (isolated bridge ports); the client still reaches both.
    const isolate = (on: boolean) =>
      Promise.all(
        ['g1', 'g2'].map((g) =>
          pair.sw.exec('bridge', ['link', 'set', 'dev', `hap${g}s`, 'isolated', on ? 'on' : 'off']),
        ),
      );
    await isolate(true);
    await until(
      'both hold the address',
      async () => (await g1.holdsFloating()) && (await g2.holdsFloating()),
      20_000,
    );
    await until('g2 primary too', async () => (await status(g2)).role === 'primary');
    const acked: Record<'g1' | 'g2', string[]> = { g1: [], g2: [] };
    for (let i = 1; i <= 5; i++) {
      for (const gw of [g1, g2]) {
        const name = `${gw.name}p${i}`;
        if (await reg(gw.address, name, gw.name === 'g1' ? i : 100 + i)) acked[gw.name].push(name);
      }
    }
    t.equal(acked.g1.length + acked.g2.length, 10, 'both sides acknowledged writes during the partition');

    await isolate(false);
    let winner = g1;
    let loser = g2;
    await until(
      'one gateway holds the address',
      async () => (await g1.holdsFloating()) !== (await g2.holdsFloating()),
      20_000,
    );
    if (await g2.holdsFloating()) [winner, loser] = [g2, g1];
    await until(
      'the loser converged on the winner',
      async () => {
        const [w, l] = [await status(winner), await status(loser)];
        return w.role === 'primary' && l.role === 'standby' && w.seq === l.seq && w.appliedR === l.appliedR;
      },
      30_000,
    );
    const names = async (gw: typeof g1) => {
      const q = await curl(['-H', 'Host: mdb', `http://${gw.address}/call/query`]);
      return new Set([...q.stdout.matchAll(/"hostname": "([^"]+)"/g)].map((m) => m[1]));
    };
    for (const gw of [winner, loser]) {
      const have = await names(gw);
      t.same(
        acked[winner.name].filter((n) => !have.has(n)),
        [],
        `${gw.name} has every write ${winner.name} (kept the address) acknowledged`,
      );
      t.ok(have.has('before'));
    }
    t.ok((await status(winner)).term! >= (await status(loser)).term!, 'the winner is in the newest term');
    const kept = await names(winner);
    t.same(
      acked[loser.name].filter((n) => kept.has(n)),
      [],
      'the writes of the side that lost the address during the partition are gone (docs/ha.md)',
    );
    t.comment(
      `winner ${winner.name}; writes of ${loser.name} during the partition are gone: ${acked[loser.name].join(' ')}`,
    );
  },
);
