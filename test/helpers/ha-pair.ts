import fs from 'node:fs';
import path from 'node:path';
import { addBridge, attachToBridge, ip, Netns } from './netns.js';
import { repoRoot, type SpawnedGatehouse, spawnGatehouse } from './spawn-gatehouse.js';

/**
 * A hot-standby pair in namespaces (docs/ha.md): `<p>-g1` and `<p>-g2`, each with Gatehouse and
 * keepalived (the config of contrib/keepalived, VRRPv3 at 200 ms), on a bridge in `<p>-sw`
 * with a client `<p>-c0` that talks to the floating address. Used by test/netns/ha.test.ts and
 * bench/ha/takeover.ts.
 */

export const HA_FLOATING = '10.77.0.254';
/** With `dhcp`: the alien pool on the pair's LAN, served from the floating address. */
export const HA_DHCP_RANGE = { start: '10.77.0.20', end: '10.77.0.250' } as const;
export const HA_SECRET = 'netns-ha-secret';
const OWN = { g1: '10.77.0.1', g2: '10.77.0.2' } as const;

export interface HaStatusView {
  role?: string;
  term?: number;
  appliedR?: number;
  seq?: number;
  lagTransactions?: number;
  mode?: string;
  standby?: { connected: number; syncDegraded: boolean; degradations: number };
}

export interface HaGateway {
  name: 'g1' | 'g2';
  ns: Netns;
  dir: string;
  address: string;
  gatehouse?: SpawnedGatehouse;
  startGatehouse(): Promise<void>;
  startKeepalived(): void;
  /**
   * The gateway dies: its LAN link goes silent, kill -9 of everything, then it is back without
   * processes. Resolves with the time the link was down (nothing it sends arrives after it).
   */
  kill(): Promise<number>;
  holdsFloating(): Promise<boolean>;
}

export interface HaPair {
  g1: HaGateway;
  g2: HaGateway;
  client: Netns;
  /** Holds the bridge; the gateways' ports are `<p>g1s`, `<p>g2s`. */
  sw: Netns;
  curl(args: string[]): Promise<{ stdout: string; code: number }>;
  /**
   * One more namespace `<p>-<tag>` on the bridge (eth0), with `address`/24 or none (a DHCP
   * client sending from 0.0.0.0 needs a namespace without addresses: bench/bootstorm/dhcp-client.ts).
   */
  addClient(tag: string, address?: string): Promise<Netns>;
  /** g1 first (it takes the address and becomes primary), then g2, until g2 follows with no lag. */
  start(timeoutMs?: number): Promise<void>;
  status(gw: HaGateway): Promise<HaStatusView>;
  destroy(): Promise<void>;
}

function keepalivedConf(name: string, notify: string, extra: readonly string[]): string {
  const conf = fs.readFileSync(path.join(repoRoot, 'contrib/keepalived/keepalived.conf'), 'utf8');
  return conf
    .replace(/router_id \S+/, `router_id gatehouse-${name}`)
    .replace(/^\s*enable_script_security\n/m, '') // the test's scripts live in /tmp
    .replace(
      /virtual_ipaddress \{[^}]*\}/,
      `virtual_ipaddress {\n${[`${HA_FLOATING}/24 dev lan0`, ...extra].map((a) => `        ${a}\n`).join('')}    }`,
    )
    .replace(/notify \S+/, `notify ${notify}`);
}

export interface HaDhcpOptions {
  /** Alien lease time, seconds. */
  leaseTime: number;
}

/**
 * DHCP on lan0 of both gateways (primary-only: src/ha/primary-only.ts). The pair's LAN is the
 * alien network, so every client is "unknown" and gets a dynamic lease: the leases that must
 * replicate. The floating address is the alien gateway (router, DNS, option 54).
 */
function dhcpSections(d: HaDhcpOptions | undefined): Record<string, string> {
  if (!d) return { dhcp: '{ enabled: false }' };
  return {
    network: `{ alien: 10.77.0.0/24, alienGateway: ${HA_FLOATING} }`,
    dhcp: `{ interfaces: [lan0], alien: { rangeStart: ${HA_DHCP_RANGE.start}, rangeEnd: ${HA_DHCP_RANGE.end}, leaseTime: ${d.leaseTime} } }`,
  };
}

function gatehouseYaml(
  dir: string,
  name: 'g1' | 'g2',
  mode: string,
  logLevel: string,
  dhcp: HaDhcpOptions | undefined,
  sections: Record<string, string>,
): string {
  const peer = name === 'g1' ? OWN.g2 : OWN.g1;
  const config: Record<string, string> = {
    dataDir: `${dir}/data`,
    demo: '{ seed: false }',
    log: `{ level: ${logLevel} }`,
    http: "{ listen: ['0.0.0.0:80'] }",
    // UDP answers must leave from the address asked (dig rejects others): the floating address
    // is bound explicitly, which net.ipv4.ip_nonlocal_bind=1 allows while the standby lacks it.
    dns: `{ listen: ['${OWN[name]}:53', '${HA_FLOATING}:53'] }`,
    ...dhcpSections(dhcp),
    tftp: '{ enabled: false }',
    presence: '{ enabled: false }',
    sso: '{ enabled: false }',
    secrets: `{ haReplication: ${HA_SECRET} }`,
    ha: `{ enabled: true, node: ${name}, peer: 'http://${peer}', floatingAddresses: [${HA_FLOATING}], mode: ${mode}, addressCheckMs: 100, retryMs: 100 }`,
    ...sections,
  };
  return `${Object.entries(config)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n')}\n`;
}

export async function createHaPair(opts: {
  prefix: string;
  root: string;
  mode?: 'sync' | 'async';
  logLevel?: string;
  dhcp?: HaDhcpOptions;
  /** Top-level config sections (YAML flow values) replacing or adding to the pair's defaults. */
  sections?: Record<string, string>;
  /** More keepalived `virtual_ipaddress` lines (`10.78.0.254/24 dev uplink0`). */
  virtualAddresses?: string[];
  /** Environment of the keepalived notify hook, per gateway. */
  notifyEnv?: (name: 'g1' | 'g2', dir: string) => Record<string, string>;
  /** Shell lines the notify wrapper runs before the hook (`$1`..`$4` are keepalived's arguments). */
  notifyPrelude?: string;
}): Promise<HaPair> {
  const P = opts.prefix;
  const sw = new Netns(`${P}-sw`);
  const client = new Netns(`${P}-c0`);
  const all: Netns[] = [sw, client];
  for (const ns of ['g1', 'g2', 'sw', 'c0']) await ip('netns', 'del', `${P}-${ns}`).catch(() => {});
  for (const ns of [sw, client]) {
    await ip('netns', 'add', ns.name);
    await ns.exec('ip', ['link', 'set', 'lo', 'up']);
  }
  await addBridge(sw, 'br0');
  const attach = (ns: Netns, tag: string, ifname: string, addr: string | undefined) =>
    attachToBridge(sw, 'br0', ns, `${P}${tag}`, ifname, addr ? `${addr}/24` : undefined);
  await attach(client, 'c0', 'eth0', '10.77.0.10');

  const gws: HaGateway[] = [];
  for (const name of ['g1', 'g2'] as const) {
    const ns = new Netns(`${P}-${name}`);
    all.push(ns);
    await ip('netns', 'add', ns.name);
    await ns.exec('ip', ['link', 'set', 'lo', 'up']);
    await attach(ns, name, 'lan0', OWN[name]);
    await ns.exec('sysctl', ['-qw', 'net.ipv4.ip_nonlocal_bind=1']);
    const dir = path.join(opts.root, name);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'secret'), HA_SECRET);
    const notify = path.join(dir, 'notify.sh');
    fs.writeFileSync(
      notify,
      `#!/bin/sh\nexport GATEHOUSE_URL=http://127.0.0.1 GATEHOUSE_HA_SECRET_FILE=${dir}/secret${Object.entries(
        opts.notifyEnv?.(name, dir) ?? {},
      )
        .map(([k, v]) => ` ${k}=${v}`)
        .join(
          '',
        )}\n${opts.notifyPrelude ?? ''}exec ${repoRoot}/contrib/keepalived/keepalived-notify.sh "$@"\n`,
      { mode: 0o755 },
    );
    fs.writeFileSync(
      path.join(dir, 'keepalived.conf'),
      keepalivedConf(name, notify, opts.virtualAddresses ?? []),
    );
    const gw: HaGateway = {
      name,
      ns,
      dir,
      address: OWN[name],
      async startGatehouse() {
        gw.gatehouse = await spawnGatehouse({
          configYaml: gatehouseYaml(
            dir,
            name,
            opts.mode ?? 'sync',
            opts.logLevel ?? 'info',
            opts.dhcp,
            opts.sections ?? {},
          ),
          dir,
          netns: ns,
          startTimeoutMs: 60_000,
        });
      },
      startKeepalived() {
        ns.spawn('keepalived', [
          '--dont-fork',
          '--log-console',
          '--vrrp',
          '-f',
          path.join(dir, 'keepalived.conf'),
          '-p',
          path.join(dir, 'keepalived.pid'),
          '-r',
          path.join(dir, 'vrrp.pid'),
        ]);
      },
      async kill() {
        // Power loss, seen from the LAN: the link goes silent first. A plain kill -9 is not
        // that: keepalived's VRRP child gets SIGTERM from its dead parent (PDEATHSIG) and says
        // goodbye with a priority-0 advertisement, a faster takeover than a real failure.
        await ns.exec('ip', ['link', 'set', 'lan0', 'down']);
        const silentAt = Date.now();
        await ns.killAll();
        // "Rebooted": keepalived did not remove the address it held.
        await ns.exec('ip', ['addr', 'del', `${HA_FLOATING}/24`, 'dev', 'lan0'], { allowFail: true });
        await ns.exec('ip', ['link', 'set', 'lan0', 'up']);
        return silentAt;
      },
      async holdsFloating() {
        const r = await ns.exec('ip', ['-4', 'addr', 'show', 'dev', 'lan0']);
        return r.stdout.includes(`${HA_FLOATING}/`);
      },
    };
    gws.push(gw);
  }
  const curl = (args: string[]) => client.exec('curl', ['-s', '-m', '3', ...args], { allowFail: true });
  const pair: HaPair = {
    g1: gws[0]!,
    g2: gws[1]!,
    client,
    sw,
    curl,
    async addClient(tag, address) {
      const ns = new Netns(`${P}-${tag}`);
      await ip('netns', 'del', ns.name).catch(() => {});
      all.push(ns);
      await ip('netns', 'add', ns.name);
      await ns.exec('ip', ['link', 'set', 'lo', 'up']);
      await attach(ns, tag, 'eth0', address);
      return ns;
    },
    async start(timeoutMs = 30_000) {
      await pair.g1.startGatehouse();
      pair.g1.startKeepalived();
      await until('g1 holds the floating address', () => pair.g1.holdsFloating(), timeoutMs);
      await until('g1 is primary', async () => (await pair.status(pair.g1)).role === 'primary', timeoutMs);
      await pair.g2.startGatehouse();
      pair.g2.startKeepalived();
      await until(
        'g2 follows g1',
        async () =>
          (await pair.status(pair.g2)).role === 'standby' &&
          (await pair.status(pair.g1)).lagTransactions === 0,
        timeoutMs,
      );
    },
    async status(gw) {
      const r = await curl(['-H', `Authorization: Bearer ${HA_SECRET}`, `http://${gw.address}/ha/v1/status`]);
      try {
        return JSON.parse(r.stdout || '{}') as HaStatusView;
      } catch {
        return {};
      }
    },
    async destroy() {
      for (const ns of all) await ns.killAll();
      for (const ns of all) await ip('netns', 'del', ns.name).catch(() => {});
    },
  };
  return pair;
}

export async function until(what: string, fn: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}
