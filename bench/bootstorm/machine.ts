/**
 * One machine's boot, phase by phase, each with a deadline: PXE ROM DORA, TFTP of the boot
 * file, iPXE DORA, the two HTTP GETs, one DNS query. A failed phase ends the machine with
 * (phase, reason); nothing waits forever.
 */
import crypto from 'node:crypto';
import { TftpClientError, tftpGet } from '../../src/tftp/client.js';
import { queryA } from './dns-client.js';
import { fetchBootScripts } from './http-client.js';
import type { Dora } from './remote-dhcp.js';

export const PHASES = ['dhcp-pxe', 'tftp', 'dhcp-ipxe', 'http', 'dns'] as const;
export type Phase = (typeof PHASES)[number];

export interface MachineSpec {
  index: number;
  mac: string;
  hostname: string;
  /** The registered address; unset when unknown (a real LAN without a machines file). */
  expectIp?: string;
  /** The exact /boot/<mac>/ script; unset: any `#!ipxe` script that boots. */
  expectScript?: string;
}

export interface Expectations {
  bootFileSize?: number;
  domain: string;
  /** Where `netboot` is (the iPXE ACK's server identifier when unset). */
  netbootIp?: string;
}

export interface MachineResult {
  index: number;
  mac: string;
  hostname: string;
  ip: string;
  completed: boolean;
  failPhase: Phase | '';
  failReason: string;
  /** Arrival, ms after the storm started. */
  arrivalMs: number;
  /** Per phase durations, ms (NaN when not reached). */
  dhcpPxeMs: number;
  tftpMs: number;
  dhcpIpxeMs: number;
  httpMs: number;
  dnsMs: number;
  /** Arrival to the end of the /boot/<mac>/ answer (NaN: never). */
  bootScriptMs: number;
  pxeRetransmissions: number;
  ipxeRetransmissions: number;
  tftpRetransmissions: number;
  tftpBytes: number;
  tftpTsize: number;
  httpKeepAlive: boolean;
  /** SHA-256 of the /boot/<mac>/ answer (hex), so a test can tell it is the machine's own. */
  bootScriptSha256: string;
  dnsRetransmissions: number;
}

export const TFTP_DEADLINE_MS = 60_000;
export const HTTP_DEADLINE_MS = 30_000;

function deadline<T>(p: Promise<T>, ms: number, onTimeout: T): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((r) => {
      timer = setTimeout(() => r(onTimeout), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export interface MachineEnv {
  dhcp: Dora;
  expect: Expectations;
  /** Makes sure `ip` is an address of the client interface (added lazily when unplanned). */
  ensureAddress(ip: string): Promise<void>;
  /** ms since the storm started. */
  now(): number;
}

/** The result of a machine that has reached no phase yet (arrived at `arrivalMs`). */
export function notBooted(spec: MachineSpec, arrivalMs: number): MachineResult {
  return {
    index: spec.index,
    mac: spec.mac,
    hostname: spec.hostname,
    ip: '',
    completed: false,
    failPhase: '',
    failReason: '',
    arrivalMs,
    dhcpPxeMs: Number.NaN,
    tftpMs: Number.NaN,
    dhcpIpxeMs: Number.NaN,
    httpMs: Number.NaN,
    dnsMs: Number.NaN,
    bootScriptMs: Number.NaN,
    pxeRetransmissions: 0,
    ipxeRetransmissions: 0,
    tftpRetransmissions: 0,
    tftpBytes: 0,
    tftpTsize: 0,
    httpKeepAlive: false,
    bootScriptSha256: '',
    dnsRetransmissions: 0,
  };
}

export async function bootMachine(spec: MachineSpec, env: MachineEnv): Promise<MachineResult> {
  const r = notBooted(spec, env.now());
  const state: { phase: Phase } = { phase: 'dhcp-pxe' };
  try {
    return await phases(spec, env, r, state);
  } catch (e) {
    // A bug or an unexpected socket error ends this machine, never the storm.
    r.failPhase = state.phase;
    r.failReason = `exception-${(e as NodeJS.ErrnoException).code?.toLowerCase() ?? 'error'}`;
    return r;
  }
}

async function phases(
  spec: MachineSpec,
  env: MachineEnv,
  r: MachineResult,
  state: { phase: Phase },
): Promise<MachineResult> {
  const fail = (phase: Phase, reason: string) => {
    r.failPhase = phase;
    r.failReason = reason;
    return r;
  };
  let t = env.now();

  // 1. The PXE ROM's DORA.
  const pxe = await env.dhcp.dora(spec.mac, 'pxe');
  r.pxeRetransmissions = pxe.retransmissions;
  if (!pxe.ok) return fail('dhcp-pxe', pxe.reason);
  r.dhcpPxeMs = env.now() - t;
  r.ip = pxe.lease.ip;
  if (spec.expectIp && pxe.lease.ip !== spec.expectIp) return fail('dhcp-pxe', 'wrong-ip');
  if (!pxe.lease.bootFile) return fail('dhcp-pxe', 'no-boot-file');
  if (!pxe.lease.nextServer) return fail('dhcp-pxe', 'no-next-server');
  await env.ensureAddress(r.ip);

  // 2. TFTP of the boot file, as ROMs ask for it.
  state.phase = 'tftp';
  t = env.now();
  const timedOut = new TftpClientError('phase deadline', -2);
  const tftp = await deadline(
    tftpGet({
      host: pxe.lease.nextServer,
      port: 69,
      file: pxe.lease.bootFile,
      options: { blksize: 1456, tsize: 0 },
      localAddress: r.ip,
      keepData: false,
      timeoutMs: 1000,
      retries: 7,
    }).catch((e: unknown) => e as Error),
    TFTP_DEADLINE_MS,
    timedOut as Error,
  );
  if (tftp instanceof Error) {
    const code = tftp instanceof TftpClientError ? tftp.code : -3;
    return fail(
      'tftp',
      code === -1 ? 'timeout' : code === -2 ? 'deadline' : code >= 0 ? `error-${code}` : 'socket',
    );
  }
  r.tftpRetransmissions = tftp.retransmissions;
  r.tftpBytes = tftp.bytes;
  r.tftpTsize = Number(tftp.oack?.tsize ?? Number.NaN);
  r.tftpMs = env.now() - t;
  if (tftp.oack?.blksize !== '1456') return fail('tftp', 'blksize-refused');
  if (tftp.bytes !== r.tftpTsize) return fail('tftp', 'bytes-not-tsize');
  if (env.expect.bootFileSize !== undefined && tftp.bytes !== env.expect.bootFileSize)
    return fail('tftp', 'wrong-size');

  // 3. iPXE's DORA.
  state.phase = 'dhcp-ipxe';
  t = env.now();
  const ipxe = await env.dhcp.dora(spec.mac, 'ipxe');
  r.ipxeRetransmissions = ipxe.retransmissions;
  if (!ipxe.ok) return fail('dhcp-ipxe', ipxe.reason);
  r.dhcpIpxeMs = env.now() - t;
  if (ipxe.lease.ip !== r.ip) return fail('dhcp-ipxe', 'other-ip');
  if (!ipxe.lease.bootFile.startsWith('http://')) return fail('dhcp-ipxe', 'no-chain-url');

  // 4. /bootstrap and /boot/<mac>/ on one connection.
  state.phase = 'http';
  t = env.now();
  const http = await fetchBootScripts({
    server: env.expect.netbootIp ?? ipxe.lease.serverId,
    mac: spec.mac,
    localAddress: r.ip,
    timeoutMs: HTTP_DEADLINE_MS,
  });
  if (!http.ok) return fail('http', `${http.step}-${http.reason}`);
  r.httpMs = env.now() - t;
  r.bootScriptMs = env.now() - r.arrivalMs;
  r.httpKeepAlive = http.boot.reusedSocket;
  r.bootScriptSha256 = crypto.createHash('sha256').update(http.boot.body).digest('hex');
  if (!http.bootstrap.body.startsWith('#!ipxe')) return fail('http', 'bootstrap-not-ipxe');
  if (
    spec.expectScript !== undefined
      ? http.boot.body !== spec.expectScript
      : !/^#!ipxe\n[\s\S]*\nboot /.test(http.boot.body)
  )
    return fail('http', 'wrong-boot-script');

  // 5. One DNS query: the machine's own name.
  state.phase = 'dns';
  t = env.now();
  const dns = await queryA({
    server: ipxe.lease.dns ?? ipxe.lease.serverId,
    name: `${spec.hostname}.${env.expect.domain}`,
    localAddress: r.ip,
  });
  r.dnsRetransmissions = dns.retransmissions;
  if (!dns.ok) return fail('dns', dns.reason);
  r.dnsMs = env.now() - t;
  if (!dns.addresses.includes(r.ip)) return fail('dns', 'wrong-answer');
  r.completed = true;
  return r;
}
