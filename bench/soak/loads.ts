/**
 * The normal traffic of the soak: what a contest LAN of `machines` machines sends all day, at
 * modest rates (the box running it has two shared cores). Every request's latency is recorded;
 * a request without an answer within its timeout counts as failed.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import * as dnsPacket from 'dns-packet';
import { Agent, request } from 'undici';
import { pyJsonDumps } from '../../src/rpc/pyjson.js';
import { generateToken } from '../../src/sync/timeauth.js';
import { tftpGet } from '../../src/tftp/client.js';
import { clientBytes, viewReply } from '../../test/dhcp/helpers.js';
import { RelayPeer } from '../../test/dhcp/relay-peer.js';
import { OPTIONS } from '../tftp/procs.js';
import { machineIp, machineName, type SoakPorts, userName } from './server.js';
import { type Registry, every } from './stats.js';

export const SECRETS = {
  presencePub: 'demo-presencesync-pub',
  presenceSub: 'demo-presencesync-sub',
  mdbSub: 'demo-mdbsync-sub',
  udbSub: 'demo-udbsync-sub',
  admin: 'demo-admin-token',
};

export interface LoadOptions {
  ports: SoakPorts;
  machines: number;
  stats: Registry;
  files: { small: string; big: string };
}

const pick = (n: number) => Math.floor(Math.random() * n);
export const dispatcher = new Agent({ connections: 64, keepAliveTimeout: 4000, bodyTimeout: 0 });

async function http(
  port: number,
  host: string,
  path: string,
  init: { method?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const res = await request(`http://127.0.0.1:${port}${path}`, {
    method: (init.method ?? 'GET') as 'GET',
    body: init.body,
    headers: { host, ...init.headers },
    dispatcher,
    headersTimeout: 5000,
    bodyTimeout: 5000,
  });
  return { status: res.statusCode, body: await res.body.text(), headers: res.headers };
}

function signedForm(secret: string, msg: unknown): string {
  const data = pyJsonDumps(msg);
  return new URLSearchParams({ data, hmac: generateToken(secret, data) }).toString();
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

function expect(status: number, want: number, what: string): void {
  if (status !== want) throw new Error(`${what}: ${status}`);
}

/** UDP DNS: one socket, answers matched by id; no answer within 1 s fails. */
function dnsUdp(o: LoadOptions, perSecond: number): () => void {
  const k = o.stats.kind('dns udp');
  const socket = dgram.createSocket('udp4');
  const pending = new Map<number, { t0: number; timer: NodeJS.Timeout }>();
  let id = 0;
  socket.on('message', (msg) => {
    const p = pending.get(msg.readUInt16BE(0));
    if (!p) return;
    pending.delete(msg.readUInt16BE(0));
    clearTimeout(p.timer);
    if ((msg[2]! & 0x80) === 0) k.fail('not a response');
    else k.ok(performance.now() - p.t0);
  });
  const names = (i: number) =>
    [
      { type: 'A', name: `${machineName(i)}.prolo` },
      { type: 'A', name: `nothere${i}.prolo` },
      { type: 'PTR', name: machineIp(i).split('.').reverse().join('.') + '.in-addr.arpa' },
      { type: 'AAAA', name: `${machineName(i)}.prolo` },
    ] as const;
  const stop = every(1000 / perSecond, () => {
    id = (id + 1) & 0xffff;
    const q = names(pick(o.machines))[pick(4)]!;
    const bytes = dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [q] });
    const qid = id;
    const timer = setTimeout(() => {
      pending.delete(qid);
      k.fail('no answer within 1 s');
    }, 1000);
    pending.set(qid, { t0: performance.now(), timer });
    socket.send(bytes, o.ports.dns, '127.0.0.1');
  });
  return () => {
    stop();
    for (const p of pending.values()) clearTimeout(p.timer);
    socket.close();
  };
}

/** TCP DNS: a new connection per query, as stub resolvers retrying after TC do. */
function dnsTcp(o: LoadOptions, perSecond: number): () => void {
  const k = o.stats.kind('dns tcp');
  return every(1000 / perSecond, () =>
    k.time(
      () =>
        new Promise<void>((resolve, reject) => {
          const q = dnsPacket.streamEncode({
            type: 'query',
            id: pick(65536),
            questions: [{ type: 'A', name: `${machineName(pick(o.machines))}.prolo` }],
          });
          const s = net.connect(o.ports.dns, '127.0.0.1', () => s.write(q));
          const timer = setTimeout(() => s.destroy(new Error('no answer within 2 s')), 2000);
          let got = Buffer.alloc(0);
          s.on('data', (d) => {
            got = Buffer.concat([got, d]);
            if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) {
              clearTimeout(timer);
              s.end();
              resolve();
            }
          });
          s.on('error', (e) => {
            clearTimeout(timer);
            reject(e);
          });
          s.on('close', () => reject(new Error('closed without an answer')));
        }),
    ),
  );
}

/**
 * DHCP through the relay-only socket: new aliens (DISCOVER + REQUEST) and renewals (REQUEST
 * with ciaddr) of the leases they got, one exchange at a time.
 */
function dhcp(o: LoadOptions, perSecond: number): () => void {
  const dora = o.stats.kind('dhcp new alien (DORA)');
  const renew = o.stats.kind('dhcp renewal');
  // Alien leases last 30 s (dhcp.alien.leaseTime): renew only those bound less than 20 s ago.
  let leases: Array<{ mac: string; ip: string; at: number }> = [];
  let peer: RelayPeer | undefined;
  let busy = false;
  let n = 0;
  void RelayPeer.open().then((p) => (peer = p));
  const exchange = async (m: Parameters<typeof clientBytes>[0]) => {
    peer!.send(clientBytes({ ...m, giaddr: '127.0.0.1' }), o.ports.dhcp);
    const until = performance.now() + 1500;
    for (;;) {
      const b = await peer!.next(Math.max(1, until - performance.now()));
      if (!b) throw new Error(`no answer to ${m.type} within 1.5 s`);
      const v = viewReply(b);
      if (v.xid === m.xid) return v;
    }
  };
  const stop = every(1000 / perSecond, async () => {
    if (!peer || busy) return;
    busy = true;
    try {
      const xid = ++n;
      leases = leases.filter((l) => Date.now() - l.at < 20_000);
      if (leases.length < 20 || Math.random() < 0.1) {
        const mac = `02:50:${[xid >> 24, xid >> 16, xid >> 8, xid].map((b) => (b & 255).toString(16).padStart(2, '0')).join(':')}`;
        await dora.time(async () => {
          const offer = await exchange({ type: 'DISCOVER', mac, xid });
          if (offer.type !== 'OFFER') throw new Error(`DISCOVER: ${offer.type}`);
          const ack = await exchange({
            type: 'REQUEST',
            mac,
            xid,
            requested: offer.yiaddr,
            serverId: offer.serverId,
          });
          if (ack.type !== 'ACK') throw new Error(`REQUEST: ${ack.type}`);
          leases.push({ mac, ip: ack.yiaddr, at: Date.now() });
        });
      } else {
        const l = leases[pick(leases.length)]!;
        await renew.time(async () => {
          const ack = await exchange({ type: 'REQUEST', mac: l.mac, xid, ciaddr: l.ip });
          if (ack.type !== 'ACK' || ack.yiaddr !== l.ip)
            throw new Error(`renewal: ${ack.type} ${ack.yiaddr}`);
          l.at = Date.now();
        });
      }
    } finally {
      busy = false;
    }
  });
  return () => {
    stop();
    peer?.close();
  };
}

function tftp(o: LoadOptions, file: string, everyMs: number): () => void {
  const k = o.stats.kind(`tftp ${file}`);
  return every(everyMs, () =>
    k.time(() => tftpGet({ host: '127.0.0.1', port: o.ports.tftp, file, options: OPTIONS, keepData: false })),
  );
}

/** A /poll subscriber: latency = time to the snapshot line; reconnects every `lifeMs`. */
function subscriber(o: LoadOptions, feed: string, secret: string, lifeMs: number): () => void {
  const k = o.stats.kind(`${feed} subscribe (snapshot)`);
  const lines = o.stats.kind(`${feed} messages received`, true);
  let stopped = false;
  let current: AbortController | undefined;
  const loop = async () => {
    while (!stopped) {
      const ac = new AbortController();
      current = ac;
      const timer = setTimeout(() => ac.abort(), lifeMs * (0.5 + Math.random()));
      const t0 = performance.now();
      let first = true;
      try {
        const q = `/poll?data=%7B%7D&hmac=${encodeURIComponent(generateToken(secret, null))}`;
        const res = await request(`http://127.0.0.1:${o.ports.http}${q}`, {
          headers: { host: feed },
          dispatcher,
          signal: ac.signal,
          headersTimeout: 5000,
          bodyTimeout: 0,
        });
        for await (const chunk of res.body) {
          const newlines = (chunk as Buffer).toString().split('\n').length - 1;
          if (first && newlines > 0) {
            k.ok(performance.now() - t0);
            first = false;
            for (let i = 1; i < newlines; i++) lines.ok(0);
          } else for (let i = 0; i < newlines; i++) lines.ok(0);
        }
      } catch (e) {
        if (!ac.signal.aborted && !stopped) k.fail((e as Error).message.slice(0, 80));
      } finally {
        clearTimeout(timer);
      }
      if (first && !stopped && !ac.signal.aborted) k.fail('stream ended before its snapshot');
    }
  };
  void loop();
  return () => {
    stopped = true;
    current?.abort();
  };
}

/** 1000 machines heart-beating every 15 s, spread evenly; a few logout/login cycles. */
function presence(o: LoadOptions, startedAt: number): () => void {
  const hb = o.stats.kind('presence heartbeat');
  const cycle = o.stats.kind('presence logout + login');
  let i = 0;
  const stopHb = every(15_000 / o.machines, () => {
    const n = i++ % o.machines;
    return hb.time(async () => {
      const r = await http(o.ports.http, 'presencesync', '/heartbeat', {
        method: 'POST',
        body: signedForm(SECRETS.presencePub, { login: userName(n), hostname: machineName(n) }),
        headers: FORM,
      });
      expect(r.status, 200, 'heartbeat');
    });
  });
  const stopCycle = every(3000, () => {
    // Logins are refused for one presence timeout after the first start (30 s).
    if (Date.now() - startedAt < 35_000) return;
    const n = pick(o.machines);
    const msg = { login: userName(n), hostname: machineName(n) };
    return cycle.time(async () => {
      const out = await http(o.ports.http, 'presencesync', '/logout', {
        method: 'POST',
        body: signedForm(SECRETS.presencePub, msg),
        headers: FORM,
      });
      const back = await http(o.ports.http, 'presencesync', '/login', {
        method: 'POST',
        body: signedForm(SECRETS.presencePub, msg),
        headers: FORM,
      });
      // The heartbeat of that machine may have raced the logout: 500 "not logged in" is fine.
      if (![200, 500].includes(out.status) || back.status !== 200)
        throw new Error(`logout ${out.status} ${out.body} / login ${back.status} ${back.body}`);
    });
  });
  return () => {
    stopHb();
    stopCycle();
  };
}

function sso(o: LoadOptions, perSecond: number): () => void {
  const k = o.stats.kind('sso lookup');
  return every(1000 / perSecond, () =>
    k.time(async () => {
      const r = await http(o.ports.http, 'sso', '/', {
        headers: { 'x-real-ip': machineIp(pick(o.machines)) },
      });
      expect(r.status, 204, 'sso');
    }),
  );
}

/** Writers: admin-API changes of machines and users (each becomes an mdbsync/udbsync message). */
function publishers(o: LoadOptions): () => void {
  const mdb = o.stats.kind('mdb write (admin API)');
  const udb = o.stats.kind('udb write (admin API)');
  const rpc = o.stats.kind('mdb rpc query');
  const auth = { authorization: `Bearer ${SECRETS.admin}`, 'content-type': 'application/json' };
  const stops = [
    every(1000, () =>
      mdb.time(async () => {
        const r = await http(o.ports.http, '127.0.0.1', `/api/v1/machines/${machineName(pick(o.machines))}`, {
          method: 'PATCH',
          body: JSON.stringify({ is_faulty_details: `soak ${Date.now()}` }),
          headers: auth,
        });
        expect(r.status, 200, `machine PATCH ${r.body.slice(0, 60)}`);
      }),
    ),
    every(2000, () =>
      udb.time(async () => {
        const r = await http(o.ports.http, '127.0.0.1', `/api/v1/users/${userName(pick(o.machines))}`, {
          method: 'PATCH',
          body: JSON.stringify({ shell: Math.random() < 0.5 ? '/bin/bash' : '/bin/zsh' }),
          headers: auth,
        });
        expect(r.status, 200, `user PATCH ${r.body.slice(0, 60)}`);
      }),
    ),
    every(500, () =>
      rpc.time(async () => {
        const r = await http(o.ports.http, 'mdb', '/call/query', {
          method: 'POST',
          body: JSON.stringify({ args: [], kwargs: { hostname: machineName(pick(o.machines)) } }),
          headers: { 'content-type': 'application/json' },
        });
        expect(r.status, 200, 'rpc query');
      }),
    ),
  ];
  return () => {
    for (const s of stops) s();
  };
}

/** Starts every normal load; returns the function that stops them. */
export function startLoads(o: LoadOptions, startedAt: number): () => void {
  const stops = [
    dnsUdp(o, 100),
    dnsTcp(o, 2),
    dhcp(o, 5),
    tftp(o, o.files.small, 2000),
    tftp(o, o.files.big, 10_000),
    ...[0, 1, 2].flatMap(() => [
      subscriber(o, 'mdbsync', SECRETS.mdbSub, 60_000),
      subscriber(o, 'udbsync', SECRETS.udbSub, 60_000),
      subscriber(o, 'presencesync', SECRETS.presenceSub, 60_000),
    ]),
    presence(o, startedAt),
    sso(o, 20),
    publishers(o),
  ];
  return () => {
    for (const s of stops) s();
  };
}
