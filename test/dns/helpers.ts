import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { promisify } from 'node:util';
import * as dnsPacket from 'dns-packet';
import type { GatehouseConfigInput } from '../../src/config/index.js';
import type { DnsService } from '../../src/dns/service.js';
import { type Machine, machinesTable } from '../../src/mdb/model.js';
import type { Store } from '../../src/store/index.js';
import { type TestGatehouse, startGatehouse } from '../helpers/gatehouse.js';
import { machineRecord } from '../helpers/records.js';

const execFileP = promisify(execFile);

/** A machine as MDB stores it (spec §2.1 to_dict shape). */
export function machine(hostname: string, ip: string, more: Partial<Machine> = {}): Machine {
  const mac = `02:00:${ip
    .split('.')
    .map((o) => Number(o).toString(16).padStart(2, '0'))
    .join(':')}`;
  return machineRecord({ hostname, ip, mac, ...more });
}

/** The gw record of spec §0.2 / scenario 26. */
export const GW = machine('gw', '192.168.1.254', {
  aliases: 'mdb,mdbsync,ns,netboot,udb,udbsync,presencesync,ntp,sso',
  mtype: 'service',
  mac: 'aa:bb:cc:00:00:fe',
});

/** Writes machines straight into the store (MDB is built by another module). */
export async function putMachines(store: Store, ...ms: Machine[]): Promise<void> {
  await store.write((tx) => {
    for (const m of ms) tx.put(machinesTable(store), m.hostname, m);
  });
}

export async function deleteMachine(store: Store, hostname: string): Promise<void> {
  await store.write((tx) => tx.delete(machinesTable(store), hostname));
}

export interface DnsFixture extends TestGatehouse {
  dns: DnsService;
  port: number;
  /** Writes machines and waits until the DNS snapshot reflects the commit. */
  put(...ms: Machine[]): Promise<void>;
  remove(hostname: string): Promise<void>;
}

/** An in-process Gatehouse with DNS on a free loopback port (UDP and TCP share it). */
export async function startDns(
  t: { teardown(fn: () => void | Promise<void>): void },
  overrides: GatehouseConfigInput = {},
): Promise<DnsFixture> {
  const gh = await startGatehouse(t, overrides);
  const dns = gh.app.service<DnsService>('dns');
  if (!dns) throw new Error('dns service not started');
  return {
    ...gh,
    dns,
    port: dns.port,
    async put(...ms) {
      await putMachines(gh.app.store, ...ms);
      await dns.settled();
    },
    async remove(hostname) {
      await deleteMachine(gh.app.store, hostname);
      await dns.settled();
    },
  };
}

export interface Run {
  stdout: string;
  stderr: string;
  code: number;
}

export async function run(cmd: string, args: string[], timeoutMs = 15_000): Promise<Run> {
  try {
    const { stdout, stderr } = await execFileP(cmd, args, { timeout: timeoutMs, maxBuffer: 32 << 20 });
    return { stdout, stderr, code: 0 };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; code?: number };
    return {
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? '',
      code: typeof err.code === 'number' ? err.code : 1,
    };
  }
}

/** `dig @127.0.0.1 -p PORT …` with retries off so a lost answer fails fast. */
export async function dig(port: number, ...args: string[]): Promise<string> {
  const r = await run('dig', ['@127.0.0.1', '-p', String(port), '+tries=1', '+time=3', ...args]);
  return r.stdout;
}

export async function kdig(port: number, ...args: string[]): Promise<string> {
  const r = await run('kdig', ['@127.0.0.1', '-p', String(port), '+retry=0', '+time=3', ...args]);
  return r.stdout + r.stderr;
}

/** Parses `status: X` from dig/kdig output. */
export function status(out: string): string | undefined {
  return /status: ([A-Z]+)/.exec(out)?.[1];
}

/** Answer-section lines of `dig +noall +answer` (whitespace normalised). */
export function lines(out: string): string[] {
  return out
    .split('\n')
    .map((l) => l.trim().replace(/\s+/g, ' '))
    .filter((l) => l !== '' && !l.startsWith(';'));
}

/** Sends one UDP datagram and resolves with the first reply (or undefined on timeout). */
export function udpExchange(
  port: number,
  msg: Buffer,
  opts: { timeoutMs?: number; from?: string } = {},
): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    const timer = setTimeout(() => {
      s.close();
      resolve(undefined);
    }, opts.timeoutMs ?? 2000);
    s.on('message', (m) => {
      clearTimeout(timer);
      s.close();
      resolve(m);
    });
    s.bind(0, opts.from ?? '127.0.0.1', () => s.send(msg, port, '127.0.0.1'));
  });
}

/** Sends framed messages over one TCP connection; resolves with `expect` framed replies. */
export function tcpExchange(
  port: number,
  msgs: Buffer[],
  expect = msgs.length,
  timeoutMs = 3000,
): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    let buf = Buffer.alloc(0);
    const sock = net.connect(port, '127.0.0.1', () => {
      sock.write(Buffer.concat(msgs.map(frame)));
    });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`tcp: got ${out.length}/${expect} replies`));
    }, timeoutMs);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        out.push(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
      if (out.length >= expect) {
        clearTimeout(timer);
        sock.destroy();
        resolve(out);
      }
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

export function frame(m: Buffer): Buffer {
  const f = Buffer.alloc(2 + m.length);
  f.writeUInt16BE(m.length, 0);
  m.copy(f, 2);
  return f;
}

/** A query built by dns-packet (an independent encoder). */
export function query(
  name: string,
  type: dnsPacket.RecordType | 'ANY',
  opts: { id?: number; edns?: number; rd?: boolean } = {},
): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id: opts.id ?? 4242,
    flags: opts.rd === false ? 0 : dnsPacket.RECURSION_DESIRED,
    questions: [{ type: type as dnsPacket.RecordType, name, class: 'IN' }],
    additionals:
      opts.edns !== undefined
        ? [{ type: 'OPT', name: '.', udpPayloadSize: opts.edns, flags: 0 } as dnsPacket.Answer]
        : [],
  });
}

/** dns-packet's decode with the fields its typings omit (rcode, TTLs, OPT details). */
export interface LooseRecord {
  name: string;
  type: string;
  ttl: number;
  // biome-ignore lint/suspicious/noExplicitAny: record data differs per type
  data: any;
  extendedRcode?: number;
}
export interface LoosePacket {
  id: number;
  rcode: string;
  flag_qr: boolean;
  flag_aa: boolean;
  flag_tc: boolean;
  flag_rd: boolean;
  flag_ra: boolean;
  questions: Array<{ name: string; type: string; class: string }>;
  answers: LooseRecord[];
  authorities: LooseRecord[];
  additionals: LooseRecord[];
}
export const decodePacket = (b: Buffer): LoosePacket => dnsPacket.decode(b) as unknown as LoosePacket;
export const rcodeOf = (b: Buffer) => b[3]! & 0x0f;

/** Waits (bounded) until `fn` returns true, checking after each snapshot swap and every 5 ms. */
export async function waitFor(fn: () => boolean | Promise<boolean>, timeoutMs = 2000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await fn()) return true;
    await new Promise((r) => setTimeout(r, 5));
  }
  return fn();
}
