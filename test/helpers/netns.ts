import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export const isRoot = process.getuid?.() === 0;
/** Reason to pass to `t.skip`/`{ skip }` when a test needs root (namespaces, raw sockets, nft). */
export const needsRoot = isRoot ? false : 'needs root (network namespaces); CI runs as root';

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

async function run(cmd: string, args: string[], opts: { timeoutMs?: number; allowFail?: boolean } = {}): Promise<ExecResult> {
  try {
    const { stdout, stderr } = await execFileP(cmd, args, { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 64 << 20 });
    return { stdout, stderr, code: 0 };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; code?: number | string };
    const result = { stdout: err.stdout ?? '', stderr: err.stderr ?? '', code: typeof err.code === 'number' ? err.code : 1 };
    if (opts.allowFail) return result;
    throw new Error(`${cmd} ${args.join(' ')} failed (${err.code}): ${result.stderr.trim()}`);
  }
}

export async function ip(...args: string[]): Promise<ExecResult> {
  return run('ip', args);
}

/** A network namespace of a test. */
export class Netns {
  private readonly children = new Set<ChildProcess>();
  constructor(readonly name: string) {}

  /** Runs a command inside the namespace to completion. */
  exec(cmd: string, args: string[] = [], opts: { timeoutMs?: number; allowFail?: boolean } = {}): Promise<ExecResult> {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args], opts);
  }

  /** Starts a long-running process inside the namespace; killed at teardown. */
  spawn(cmd: string, args: string[] = [], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.name, cmd, ...args], {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.children.add(child);
    child.on('exit', () => this.children.delete(child));
    return child;
  }

  async killAll(): Promise<void> {
    for (const c of this.children) c.kill('SIGKILL');
    this.children.clear();
    // Anything else still running in the namespace (daemons that forked) goes too.
    const pids = await run('ip', ['netns', 'pids', this.name], { allowFail: true });
    for (const pid of pids.stdout.split(/\s+/).filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
}

export interface LanClient extends Netns {
  /** MAC of the client's eth0. */
  mac: string;
}

export interface LanTopology {
  prefix: string;
  /** The gateway: `lan0` on the LAN bridge (gateway addresses), `uplink` to the Internet namespace. */
  gw: Netns;
  /** Holds the LAN bridge `br0`; QEMU tap devices go here. */
  sw: Netns;
  /** "The Internet": `eth0` facing the gateway's uplink. */
  internet: Netns;
  clients: LanClient[];
  /** Addresses on the uplink link. */
  uplink: { gw: string; internet: string; prefixLen: number };
  /** Adds another client namespace on the bridge. */
  addClient(mac?: string): Promise<LanClient>;
  destroy(): Promise<void>;
}

export interface LanOptions {
  /** Unique per test file: every namespace and link name starts with it (max 8 chars). */
  prefix: string;
  clients?: number;
  /** MACs of the clients, in order (default 02:<prefix hash>:…:<i>). */
  macs?: string[];
  /** Addresses of the gateway's LAN interface (CIDR). */
  gwLanAddresses?: string[];
  /** Uplink addressing (a documentation range, inside the test's own namespaces). */
  uplink?: { gw: string; internet: string; prefixLen: number };
}

function defaultMac(prefix: string, i: number): string {
  let h = 0;
  for (const ch of prefix) h = (h * 31 + ch.charCodeAt(0)) & 0xffff;
  const hex = (n: number) => n.toString(16).padStart(2, '0');
  return `02:${hex(h >> 8)}:${hex(h & 0xff)}:00:${hex((i >> 8) & 0xff)}:${hex(i & 0xff)}`;
}

/**
 * Builds: `<p>-gw` (gateway) ── lan0 ═ br0 in `<p>-sw` ═ eth0 of `<p>-c<i>` (clients), and
 * `<p>-gw` uplink ── eth0 of `<p>-in` ("the Internet"). Torn down by `destroy()`, which the
 * caller registers with `t.teardown`. Leftovers of a crashed earlier run are removed first.
 */
/** A bridge in the switch namespace: no STP, no forwarding delay (ports forward at once), up. */
export async function addBridge(sw: Netns, bridge: string): Promise<void> {
  await sw.exec('ip', ['link', 'add', bridge, 'type', 'bridge']);
  await sw.exec('ip', ['link', 'set', bridge, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
  await sw.exec('ip', ['link', 'set', bridge, 'up']);
}

/**
 * Plugs `ns` into `bridge` of the switch namespace: a veth pair `veth` (in `ns`, renamed
 * `ifname`, with the address `cidr` if given) / `${veth}s` (the bridge port).
 */
export async function attachToBridge(
  sw: Netns,
  bridge: string,
  ns: Netns,
  veth: string,
  ifname: string,
  cidr?: string,
): Promise<void> {
  await ip('link', 'add', veth, 'netns', ns.name, 'type', 'veth', 'peer', 'name', `${veth}s`, 'netns', sw.name);
  await ns.exec('ip', ['link', 'set', veth, 'name', ifname]);
  if (cidr) await ns.exec('ip', ['addr', 'add', cidr, 'dev', ifname]);
  await ns.exec('ip', ['link', 'set', ifname, 'up']);
  await sw.exec('ip', ['link', 'set', `${veth}s`, 'master', bridge, 'up']);
}

export async function createLan(opts: LanOptions): Promise<LanTopology> {
  const p = opts.prefix;
  if (p.length > 8) throw new Error('netns prefix must be at most 8 characters (interface names are limited to 15)');
  const uplink = opts.uplink ?? { gw: '198.51.100.1', internet: '198.51.100.2', prefixLen: 24 };
  await removeLeftovers(p);
  const gw = new Netns(`${p}-gw`);
  const sw = new Netns(`${p}-sw`);
  const internet = new Netns(`${p}-in`);
  const all: Netns[] = [gw, sw, internet];
  for (const ns of all) {
    await ip('netns', 'add', ns.name);
    await ns.exec('ip', ['link', 'set', 'lo', 'up']);
  }
  await addBridge(sw, 'br0');

  // Gateway LAN side.
  await ip('link', 'add', `${p}g`, 'netns', gw.name, 'type', 'veth', 'peer', 'name', `${p}gs`, 'netns', sw.name);
  await gw.exec('ip', ['link', 'set', `${p}g`, 'name', 'lan0']);
  await sw.exec('ip', ['link', 'set', `${p}gs`, 'master', 'br0', 'up']);
  for (const a of opts.gwLanAddresses ?? ['192.168.1.254/23', '192.168.250.254/24']) {
    await gw.exec('ip', ['addr', 'add', a, 'dev', 'lan0']);
  }
  await gw.exec('ip', ['link', 'set', 'lan0', 'up']);

  // Uplink.
  await ip('link', 'add', `${p}u`, 'netns', gw.name, 'type', 'veth', 'peer', 'name', `${p}ui`, 'netns', internet.name);
  await gw.exec('ip', ['link', 'set', `${p}u`, 'name', 'uplink']);
  await internet.exec('ip', ['link', 'set', `${p}ui`, 'name', 'eth0']);
  await gw.exec('ip', ['addr', 'add', `${uplink.gw}/${uplink.prefixLen}`, 'dev', 'uplink']);
  await internet.exec('ip', ['addr', 'add', `${uplink.internet}/${uplink.prefixLen}`, 'dev', 'eth0']);
  await gw.exec('ip', ['link', 'set', 'uplink', 'up']);
  await internet.exec('ip', ['link', 'set', 'eth0', 'up']);
  await gw.exec('ip', ['route', 'add', 'default', 'via', uplink.internet]);
  await gw.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);

  const clients: LanClient[] = [];
  const addClient = async (mac?: string): Promise<LanClient> => {
    const i = clients.length;
    const ns = Object.assign(new Netns(`${p}-c${i}`), { mac: (mac ?? opts.macs?.[i] ?? defaultMac(p, i)).toLowerCase() });
    all.push(ns);
    await ip('netns', 'add', ns.name);
    await ns.exec('ip', ['link', 'set', 'lo', 'up']);
    await ip('link', 'add', `${p}c${i}`, 'netns', ns.name, 'type', 'veth', 'peer', 'name', `${p}c${i}s`, 'netns', sw.name);
    await ns.exec('ip', ['link', 'set', `${p}c${i}`, 'name', 'eth0']);
    await ns.exec('ip', ['link', 'set', 'eth0', 'address', ns.mac]);
    await ns.exec('ip', ['link', 'set', 'eth0', 'up']);
    await sw.exec('ip', ['link', 'set', `${p}c${i}s`, 'master', 'br0', 'up']);
    clients.push(ns);
    return ns;
  };
  for (let i = 0; i < (opts.clients ?? 0); i++) await addClient();

  let destroyed = false;
  return {
    prefix: p,
    gw,
    sw,
    internet,
    clients,
    uplink,
    addClient,
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      for (const ns of all) await ns.killAll();
      for (const ns of all) await run('ip', ['netns', 'del', ns.name], { allowFail: true });
    },
  };
}

async function removeLeftovers(prefix: string): Promise<void> {
  const list = await run('ip', ['netns', 'list'], { allowFail: true });
  for (const line of list.stdout.split('\n')) {
    const name = line.split(' ')[0];
    if (name?.startsWith(`${prefix}-`)) {
      await new Netns(name).killAll();
      await run('ip', ['netns', 'del', name], { allowFail: true });
    }
  }
}

/**
 * A bare namespace with only `lo` up: its own ports and its own per-namespace sysctls
 * (net.core.somaxconn…). A leftover of a crashed run is replaced; removed at teardown.
 */
export async function loopbackNetns(t: { teardown(fn: () => Promise<void>): void }, name: string): Promise<Netns> {
  const ns = new Netns(name);
  const list = await run('ip', ['netns', 'list'], { allowFail: true });
  if (list.stdout.split('\n').some((l) => l.split(' ')[0] === name)) {
    await ns.killAll();
    await run('ip', ['netns', 'del', name], { allowFail: true });
  }
  await ip('netns', 'add', name);
  t.teardown(async () => {
    await ns.killAll();
    await run('ip', ['netns', 'del', name], { allowFail: true });
  });
  await ns.exec('ip', ['link', 'set', 'lo', 'up']);
  return ns;
}
