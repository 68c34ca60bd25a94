import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Machine, type MachineType, machinesTable } from '../../src/mdb/model.js';
import { pyJsonDumps } from '../../src/rpc/pyjson.js';
import type { PresenceService } from '../../src/presence/service.js';
import type { Store } from '../../src/store/index.js';
import { generateToken } from '../../src/sync/timeauth.js';
import { type User, type UserGroup, usersTable } from '../../src/udb/model.js';
import { startGatehouse } from '../helpers/gatehouse.js';
import { type HttpReply, sendHttpRequest } from '../helpers/http-request.js';
import { machineRecord } from '../helpers/records.js';

export const PUB = 'PUB';
export const SUB = 'SUB';

export function machine(hostname: string, ip: string, mtype: MachineType = 'user', n = 1): Machine {
  const mac = `aa:bb:cc:dd:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}`;
  return machineRecord({ hostname, ip, mac, mtype });
}

export function user(login: string, group: UserGroup, uid: number, id = uid): User {
  return {
    login,
    firstname: login,
    lastname: 'Test',
    uid,
    group,
    password: 'pw',
    shell: '/bin/bash',
    ssh_key: null,
    id,
  };
}

/** Writes MDB/UDB rows directly (the MDB and UDB services are not needed). */
export async function seed(store: Store, machines: Machine[], users: User[] = []): Promise<void> {
  const mt = machinesTable(store);
  const ut = usersTable(store);
  await store.write((tx) => {
    for (const m of machines) tx.put(mt, m.hostname, m);
    for (const u of users) tx.put(ut, u.login, u);
  });
}

/** The scenario fixtures of spec §18 (pas-r01p01 = 192.168.0.1, …). */
export const FIXTURE_MACHINES = [
  machine('pas-r01p01', '192.168.0.1', 'user', 1),
  machine('pas-r01p02', '192.168.0.2', 'user', 2),
  machine('pas-r01p03', '192.168.0.3', 'user', 3),
  machine('srv01', '192.168.1.10', 'service', 4),
  machine('orga01', '192.168.0.50', 'orga', 5),
];
export const FIXTURE_USERS = [
  user('aproviste', 'user', 10000),
  user('jmarchand', 'user', 10001),
  user('cana_p', 'orga', 11000),
  user('nathalie', 'root', 12000),
];

/** Gatehouse in this process with the PUB/SUB secrets, presence `timeoutS` and the fixtures seeded. */
export async function startPresence(
  t: { teardown(fn: () => void | Promise<void>): void },
  timeoutS: number,
  dataDir?: string,
) {
  const gh = await startGatehouse(t, {
    secrets: { presencesyncPub: PUB, presencesyncSub: SUB },
    presence: { timeout: timeoutS },
    ...(dataDir ? { dataDir } : {}),
  });
  await seed(gh.app.store, FIXTURE_MACHINES, FIXTURE_USERS);
  const presence = gh.app.service<PresenceService>('presencesync')!;
  return { gh, presence };
}

/** Resolves when the start-up embargo is over (a wall-clock event; bounded by TIMEOUT). */
export async function embargoOver(presence: PresenceService): Promise<void> {
  const ms = presence.rules.embargoEndsAt * 1000 - Date.now();
  if (ms > 0) await sleep(ms + 20);
}

export type Reply = HttpReply;

/** One plain HTTP request to the Gatehouse server with a chosen Host header. */
export function httpRequest(
  baseUrl: string,
  opts: {
    method?: string;
    path: string;
    host: string;
    body?: string;
    headers?: Record<string, string | string[]>;
    localAddress?: string;
  },
): Promise<Reply> {
  const url = new URL(baseUrl);
  return sendHttpRequest(
    {
      host: url.hostname,
      port: url.port,
      method: opts.method ?? 'GET',
      path: opts.path,
      headers: { host: opts.host, ...(opts.headers ?? {}) },
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
    },
    { body: opts.body, timeoutMs: 10_000, timeoutMessage: 'request timed out' },
  );
}

/** A form POST signed like the Python presencesync client (`data` = json.dumps(msg)). */
export function presencePost(baseUrl: string, path: string, msg: unknown, secret = PUB): Promise<Reply> {
  const data = pyJsonDumps(msg);
  const body = new URLSearchParams({ data, hmac: generateToken(secret, data) }).toString();
  return httpRequest(baseUrl, {
    method: 'POST',
    path,
    host: 'presencesync',
    body,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
}

export function getList(baseUrl: string, secret = SUB): Promise<Reply> {
  const data = '{}';
  const q = new URLSearchParams({ data, hmac: generateToken(secret, data) }).toString();
  return httpRequest(baseUrl, { path: `/get_list?${q}`, host: 'presencesync' });
}

export interface PollStream {
  /** The next line, parsed; rejects after `timeoutMs`. */
  next(timeoutMs?: number): Promise<unknown>;
  close(): void;
}

/** A `/poll` subscriber reading line by line. */
export function openPoll(baseUrl: string, secret = SUB): Promise<PollStream> {
  const url = new URL(baseUrl);
  const q = new URLSearchParams({ data: '{}', hmac: generateToken(secret, null) }).toString();
  return new Promise((resolve, reject) => {
    const req = http.get(
      { host: url.hostname, port: url.port, path: `/poll?${q}`, headers: { host: 'presencesync' } },
      (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`poll answered ${res.statusCode}`));
          res.resume();
          return;
        }
        const lines: string[] = [];
        const waiters: Array<(line: string) => void> = [];
        let buf = '';
        res.on('data', (c: Buffer) => {
          buf += c.toString('utf8');
          for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            const w = waiters.shift();
            if (w) w(line);
            else lines.push(line);
          }
        });
        resolve({
          next(timeoutMs = 5000) {
            const ready = lines.shift();
            if (ready !== undefined) return Promise.resolve(JSON.parse(ready));
            return new Promise((res2, rej2) => {
              const w = (line: string) => {
                clearTimeout(timer);
                res2(JSON.parse(line));
              };
              const timer = setTimeout(() => {
                const k = waiters.indexOf(w);
                if (k >= 0) waiters.splice(k, 1);
                rej2(new Error(`no poll line within ${timeoutMs} ms`));
              }, timeoutMs);
              waiters.push(w);
            });
          },
          close() {
            req.destroy();
          },
        });
      },
    );
    req.on('error', reject);
  });
}

export const upd = (login: string, hostname: string) => ({ type: 'update', data: { login, hostname } });
export const del = (login: string) => ({ type: 'delete', data: { login, hostname: null } });
