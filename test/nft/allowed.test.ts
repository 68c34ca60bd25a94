import fc from 'fast-check';
import t from 'tap';
import { computeAllowed, inSubnet } from '../../src/nft/allowed.js';

const m = (hostname: string, ip: string, mtype: 'user' | 'orga' | 'service' = 'user') => ({
  hostname,
  ip,
  mtype,
});
const machines = [
  m('m01', '192.168.0.1'),
  m('m02', '192.168.0.2'),
  m('m03', '192.168.0.3'),
  m('orga01', '192.168.0.100', 'orga'),
  m('srv', '192.168.1.10', 'service'),
];
const users = [
  { login: 'aproviste', group: 'user' as const },
  { login: 'bcontest', group: 'user' as const },
  { login: 'cana_p', group: 'orga' as const },
  { login: 'root', group: 'root' as const },
];
const ALL = ['root', 'orga', 'user'] as const;
const CONTEST = ['root', 'orga'] as const;
const LAN = '192.168.0.0/23';

t.test('spec §11.2 table', async (t) => {
  const cases: Array<[string, Parameters<typeof computeAllowed>[0], unknown]> = [
    [
      '76: empty MDB changes nothing',
      { machines: [], users, sessions: new Map([['aproviste', 'm01']]), allowedGroups: ALL },
      { kind: 'skip', reason: 'empty MDB' },
    ],
    [
      '76: empty UDB changes nothing',
      { machines, users: [], sessions: new Map(), allowedGroups: ALL },
      { kind: 'skip', reason: 'empty UDB' },
    ],
    [
      '73: a logged-in contestant, plus orga machines',
      { machines, users, sessions: new Map([['aproviste', 'm01']]), allowedGroups: ALL, lan: LAN },
      {
        kind: 'set',
        ips: ['192.168.0.1', '192.168.0.100'],
        unknownLogins: [],
        unknownHosts: [],
        outsideLan: [],
      },
    ],
    [
      '74: contest mode keeps organizers wherever they log on',
      {
        machines,
        users,
        sessions: new Map([
          ['aproviste', 'm01'],
          ['cana_p', 'm03'],
          ['root', 'm02'],
        ]),
        allowedGroups: CONTEST,
        lan: LAN,
      },
      {
        kind: 'set',
        ips: ['192.168.0.2', '192.168.0.3', '192.168.0.100'],
        unknownLogins: [],
        unknownHosts: [],
        outsideLan: [],
      },
    ],
    [
      'unknown logins are skipped, not fatal; unknown hosts reported',
      {
        machines,
        users,
        sessions: new Map([
          ['ghost', 'm01'],
          ['bcontest', 'nowhere'],
          ['aproviste', 'm02'],
        ]),
        allowedGroups: ALL,
        lan: LAN,
      },
      {
        kind: 'set',
        ips: ['192.168.0.2', '192.168.0.100'],
        unknownLogins: ['ghost'],
        unknownHosts: ['nowhere'],
        outsideLan: [],
      },
    ],
    [
      'addresses outside the LAN are refused like the bitmap:ip set did',
      {
        machines: [...machines, m('far', '10.0.0.1', 'orga')],
        users,
        sessions: new Map(),
        allowedGroups: ALL,
        lan: LAN,
      },
      { kind: 'set', ips: ['192.168.0.100'], unknownLogins: [], unknownHosts: [], outsideLan: ['10.0.0.1'] },
    ],
    [
      'the first machine with a hostname wins; numeric order',
      {
        machines: [m('dup', '192.168.0.20'), m('dup', '192.168.0.9'), m('x', '192.168.1.2', 'orga')],
        users,
        sessions: new Map([['aproviste', 'dup']]),
        allowedGroups: ALL,
      },
      {
        kind: 'set',
        ips: ['192.168.0.20', '192.168.1.2'],
        unknownLogins: [],
        unknownHosts: [],
        outsideLan: [],
      },
    ],
  ];
  for (const [name, input, want] of cases) t.same(computeAllowed(input), want, name);
});

t.test('properties: orga machines always in, output sorted and unique, within the LAN', async () => {
  const ip = fc.tuple(fc.constantFrom(0, 1, 2), fc.nat(255)).map(([c, d]) => `192.168.${c}.${d}`);
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          hostname: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
          ip,
          mtype: fc.constantFrom('user' as const, 'orga' as const),
        }),
        { minLength: 1, maxLength: 10 },
      ),
      fc.array(fc.tuple(fc.constantFrom('u1', 'u2', 'o1', 'nobody'), fc.constantFrom('a', 'b', 'c', 'z')), {
        maxLength: 6,
      }),
      fc.subarray(['user', 'orga', 'root'] as const),
      (ms, sess, groups) => {
        const r = computeAllowed({
          machines: ms,
          users: [
            { login: 'u1', group: 'user' },
            { login: 'u2', group: 'user' },
            { login: 'o1', group: 'orga' },
          ],
          sessions: new Map(sess),
          allowedGroups: groups,
          lan: LAN,
        });
        if (r.kind !== 'set') return false;
        const set = new Set(r.ips);
        const sorted = [...r.ips].sort(
          (x, y) =>
            Number(x.split('.')[2]) * 256 +
            Number(x.split('.')[3]) -
            (Number(y.split('.')[2]) * 256 + Number(y.split('.')[3])),
        );
        return (
          set.size === r.ips.length &&
          sorted.join() === r.ips.join() &&
          ms.filter((x) => x.mtype === 'orga' && inSubnet(x.ip, LAN)).every((x) => set.has(x.ip)) &&
          r.ips.every((x) => inSubnet(x, LAN)) &&
          (groups.length > 0 || r.ips.every((x) => ms.some((mm) => mm.ip === x && mm.mtype === 'orga')))
        );
      },
    ),
  );
});

t.test('inSubnet', async (t) => {
  t.ok(inSubnet('192.168.1.255', '192.168.0.0/23'));
  t.notOk(inSubnet('192.168.2.0', '192.168.0.0/23'));
  t.notOk(inSubnet('192.168.250.10', '192.168.0.0/23'));
  t.ok(inSubnet('10.1.2.3', '0.0.0.0/0'));
  t.notOk(inSubnet('nonsense', '192.168.0.0/23'));
});
