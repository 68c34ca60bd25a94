import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { request } from 'undici';
import { leasesTable } from '../../src/dhcp/lease-store.js';
import { createMachine } from '../../src/mdb/machines.js';
import { readContest } from '../../src/nft/state.js';
import type { Service } from '../../src/service.js';
import { UserWriter, udbTables } from '../../src/udb/users.js';
import { ReservedLogins } from '../../src/udb/validate.js';
import { bootProgressOf } from '../../src/boot/service.js';
import { startGatehouse } from '../helpers/gatehouse.js';

const fakeService = <T extends object>(name: string, extra: T): Service & T => ({
  name,
  start: async () => {},
  stop: async () => {},
  ...extra,
});

t.test(
  'dashboard: aliens, unknown LLDP neighbours, boot progress, connection log, contest mode, live events',
  async (t) => {
    const now = Date.now();
    let services: readonly Service[] = [];
    const gh = await startGatehouse(t, {}, [
      (ctx) => {
        services = ctx.services;
        return fakeService('lldp', {
          neighbours: () => [
            {
              interface: 'lan0',
              chassis: 'aa:bb:cc:00:00:01',
              port: 'gi0/1',
              systemName: '<script>alert(1)</script>',
              lastSeen: new Date().toISOString(),
            },
            {
              interface: 'lan0',
              chassis: 'aa:bb:cc:00:00:02',
              port: 'gi0/2',
              systemName: 'known',
              lastSeen: new Date().toISOString(),
            },
          ],
        });
      },
    ]);
    const store = gh.app.store;
    await store.write((tx) => {
      const w = new UserWriter(tx, udbTables(store), new ReservedLogins(gh.config.udb));
      w.create({ login: 'rita', firstname: 'R', lastname: 'R', group: 'root', password: 'pw-rita' });
      w.create({ login: 'olga', firstname: 'O', lastname: 'O', group: 'orga', password: 'pw-olga' });
      tx.put(store.table('switches'), 'aa:bb:cc:00:00:02', {
        name: 'known',
        chassis: 'aa:bb:cc:00:00:02',
        room: 'alt',
        rfs: 0,
        hfs: 0,
      });
      tx.put(leasesTable, '192.168.250.10', {
        mac: '02:de:ad:be:ef:01',
        clientId: null,
        hostname: 'stray',
        state: 'bound',
        starts: now,
        expires: now + 600_000,
        updatedAt: now,
      } as never);
      tx.put(leasesTable, '192.168.250.11', {
        mac: '02:de:ad:be:ef:02',
        clientId: null,
        hostname: 'gone',
        state: 'bound',
        starts: now - 9e6,
        expires: now - 1000,
        updatedAt: now,
      } as never);
    });
    // Boot progress: the real tracker, fed as DHCP, TFTP and netboot feed it; hostnames and
    // rooms come from MDB, an unregistered MAC is listed by its MAC under "unknown".
    await store.write((tx) => {
      createMachine(tx, {
        hostname: 'pas-r01p01',
        mac: '52:54:00:00:01:01',
        ip: '192.168.0.31',
        mtype: 'user',
        room: 'pasteur',
      });
      createMachine(tx, {
        hostname: 'pas-r01p02',
        mac: '52:54:00:00:01:02',
        ip: '192.168.0.32',
        mtype: 'user',
        room: 'pasteur',
      });
    });
    const progress = bootProgressOf(services);
    if (!progress) throw new Error('the boot service is not running');
    for (const mac of ['52:54:00:00:01:01', '52:54:00:00:01:02']) {
      progress.record(mac, 'dhcpPxe', now - 3000);
      progress.record(mac, 'tftpDone', now - 2000);
    }
    progress.record('52:54:00:00:01:02', 'dhcpIpxe', now - 1000);
    progress.record('52:54:00:00:01:02', 'bootScript', now);
    progress.record('02:00:00:00:00:09', 'dhcpPxe', now);
    fs.writeFileSync(
      path.join(gh.config.dataDir, 'connections.log'),
      [
        '2026-01-01T10:00:00.000Z [NEW] tcp      6 120 SYN_SENT src=192.168.0.1 dst=1.2.3.4 sport=1 dport=443 host=pas-r01p01 login=joe',
        '2026-01-01T10:00:01.000Z [NEW] tcp      6 120 SYN_SENT src=192.168.0.2 dst=1.2.3.4 sport=1 dport=443 host=pas-r01p02 login=joey',
        '2026-01-01T10:00:02.000Z [NEW] udp      17 30 src=192.168.0.1 dst=1.2.3.5 sport=1 dport=53 host=pas-r01p01 login=joe',
        '',
      ].join('\n'),
    );

    const signIn = async (login: string, password: string) => {
      const r = await request(`${gh.baseUrl}/_auth/login`, {
        method: 'POST',
        headers: { origin: gh.baseUrl, 'content-type': 'application/x-www-form-urlencoded' },
        body: `login=${login}&password=${password}`,
      });
      await r.body.dump();
      return String(r.headers['set-cookie']).split(';')[0]!;
    };
    const get = async (cookie: string, p: string) => {
      const r = await request(`${gh.baseUrl}${p}`, { headers: { cookie } });
      return { status: r.statusCode, text: await r.body.text() };
    };
    const root = await signIn('rita', 'pw-rita');
    const page = (await get(root, '/')).text;
    const section = (id: string) =>
      new RegExp(`<section id="sec-${id}"[^>]*>(.*?)</section>`, 's').exec(page)?.[1] ?? '';

    t.match(section('aliens'), '02:de:ad:be:ef:01', 'a bound alien lease is listed');
    t.match(
      section('aliens'),
      `/_go/mdb?next=${encodeURIComponent('/machines/new?mac=02%3Ade%3Aad%3Abe%3Aef%3A01')}`,
      'with a link to register it',
    );
    t.notMatch(section('aliens'), '02:de:ad:be:ef:02', 'an expired lease is not');
    t.match(section('lldp'), 'aa:bb:cc:00:00:01');
    t.match(section('lldp'), '&lt;script&gt;alert(1)&lt;/script&gt;', 'a neighbour name is escaped');
    t.notMatch(section('lldp'), 'aa:bb:cc:00:00:02', 'a neighbour already in the switch table is not listed');
    t.match(
      section('boot'),
      /pasteur <small>\(2; DHCP \(PXE\) 2, TFTP 2, DHCP \(iPXE\) 1, boot script 1\)<\/small>/,
    );
    t.match(section('boot'), /unknown <small>\(1;/);
    t.match(section('boot'), '02:00:00:00:00:09', 'a machine without hostname is shown by MAC');
    t.match(section('health'), /<td>web<\/td><td>ready<\/td>/);

    const log = await get(root, '/connections?q=joe');
    const lines = /<pre id="connlog">(.*?)<\/pre>/s.exec(log.text)![1]!.split('\n');
    t.equal(lines.length, 2, 'login=joe, not joey');
    t.match(lines[0], 'dport=53', 'newest first');
    t.match((await get(root, '/connections?q=pas-r01p02')).text, 'login=joey', 'search by machine too');

    // Contest mode: organizers see it, only roots switch it.
    const orga = await signIn('olga', 'pw-olga');
    const orgaPage = (await get(orga, '/')).text;
    t.notMatch(orgaPage, 'action="/contest"', 'no toggle for organizers');
    const csrf = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)![1]!;
    const post = (cookie: string, token: string) =>
      request(`${gh.baseUrl}/contest`, {
        method: 'POST',
        headers: { cookie, origin: gh.baseUrl, 'content-type': 'application/x-www-form-urlencoded' },
        body: `_csrf=${token}&enabled=true`,
      });
    const refused = await post(orga, csrf(orgaPage));
    await refused.body.dump();
    t.equal(refused.statusCode, 403);
    t.notOk(readContest(store)?.enabled);
    const ok = await post(root, csrf(page));
    await ok.body.dump();
    t.equal(ok.statusCode, 303);
    t.match(readContest(store), { enabled: true, by: 'web rita' });

    // Live: a change in the store reaches an open event stream with the re-rendered sections.
    const events = await request(`${gh.baseUrl}/events`, { headers: { cookie: root } });
    t.equal(events.headers['content-type'], 'text/event-stream; charset=utf-8');
    let buffer = '';
    const got = new Promise<string>((resolve) => {
      events.body.on('data', (c: Buffer) => {
        buffer += c.toString();
        const m = /event: sections\ndata: (.*)\n\n/.exec(buffer);
        if (m?.[1]?.includes('live-x')) resolve(m[1]);
        else if (m) buffer = buffer.slice(m.index + m[0].length);
      });
    });
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await store.write((tx) =>
      createMachine(tx, {
        hostname: 'live-x',
        mac: '02:00:00:00:aa:01',
        ip: '192.168.0.77',
        mtype: 'user',
        room: 'alt',
      }),
    );
    const data = JSON.parse(await got) as Record<string, string>;
    t.ok(Date.now() - started < 1000, `event ${Date.now() - started} ms after the commit`);
    t.match(data['sec-recent'], 'live-x');
    t.match(data['sec-counts'], '<td id="count-machines">3</td>');
    events.body.destroy();
  },
);
