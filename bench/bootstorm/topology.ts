/**
 * The bench's own namespaces (test/helpers/netns.ts): the server stack in `<p>-gw` on `lan0`
 * (10.40.15.254/20), every machine in one client namespace `<p>-c0` on `eth0` (TFTP, HTTP, DNS
 * from the leased addresses), their DHCP client in `<p>-c1` (no address: requests from
 * 0.0.0.0), all on the bridge of `<p>-sw`. `--loss P` puts netem on the bridge port facing the clients, so P % of what the
 * server sends is dropped on the clients' side of the link.
 *
 * The ARP table's limits are global (not per namespace): a server answering N machines needs
 * N neighbour entries, more than the default gc_thresh3 of 1024. They are raised for the run
 * (a real gateway needs the same, docs/operations.md) and put back afterwards.
 */
import fs from 'node:fs';
import { createLan, type LanTopology, type Netns } from '../../test/helpers/netns.js';
import { LAN } from './plan.js';

export interface StormTopology {
  server: Netns;
  client: Netns;
  /** The DHCP client's namespace: no address at all, so its requests leave from 0.0.0.0. */
  dhcpClient: Netns;
  serverIface: 'lan0';
  clientIface: 'eth0';
  destroy(): Promise<void>;
}

const NEIGH = '/proc/sys/net/ipv4/neigh/default';

function readNum(file: string): number {
  return Number(fs.readFileSync(file, 'utf8').trim());
}

/** Raises gc_thresh2/3 to fit `entries` neighbours; returns how to put them back. */
function raiseNeighbourLimits(entries: number): () => void {
  const saved: Array<[string, number]> = [];
  for (const [name, want] of [
    ['gc_thresh3', entries * 2 + 1024],
    ['gc_thresh2', entries + 1024],
  ] as const) {
    const file = `${NEIGH}/${name}`;
    try {
      const cur = readNum(file);
      if (cur < want) {
        saved.push([file, cur]);
        fs.writeFileSync(file, String(want));
      }
    } catch {
      // not writable here: the report's failures will tell
    }
  }
  return () => {
    for (const [file, v] of saved.reverse()) {
      try {
        fs.writeFileSync(file, String(v));
      } catch {
        // leave it raised
      }
    }
  };
}

export async function createStormTopology(opts: {
  prefix: string;
  machines: number;
  lossPct: number;
}): Promise<StormTopology> {
  const restoreNeigh = raiseNeighbourLimits(opts.machines);
  let lan: LanTopology;
  try {
    lan = await createLan({
      prefix: opts.prefix,
      clients: 2,
      gwLanAddresses: [`${LAN.server}/${LAN.prefixLen}`, `${LAN.alienGateway}/24`],
    });
  } catch (e) {
    restoreNeigh();
    throw e;
  }
  try {
    await prepare(lan, opts);
  } catch (e) {
    await lan.destroy();
    restoreNeigh();
    throw e;
  }
  return {
    server: lan.gw,
    client: lan.clients[0]!,
    dhcpClient: lan.clients[1]!,
    serverIface: 'lan0',
    clientIface: 'eth0',
    async destroy() {
      await lan.destroy();
      restoreNeigh();
    },
  };
}

async function prepare(lan: LanTopology, opts: { prefix: string; lossPct: number }): Promise<void> {
  const client = lan.clients[0]!;
  // Thousands of TFTP blocks and broadcasts at once: deeper queues on the veth pair than the
  // default 1000 packets, on both ends, for every stack alike.
  for (const [ns, dev] of [
    [lan.gw, 'lan0'],
    [client, 'eth0'],
    [lan.clients[1]!, 'eth0'],
    [lan.sw, `${opts.prefix}c0s`],
    [lan.sw, `${opts.prefix}c1s`],
    [lan.sw, `${opts.prefix}gs`],
  ] as const) {
    await ns.exec('ip', ['link', 'set', dev, 'txqueuelen', '10000']);
  }
  // The bridge stands in for the LAN's hardware switch, which does not run the host's
  // netfilter on frames it forwards: br_netfilter (loaded on many hosts, and per namespace since
  // Linux 5.3) would otherwise pass every one of the ~130 frames per machine through IP hooks,
  // CPU charged to whichever side sent it (the veth runs the bridge in the sender's context).
  for (const family of ['iptables', 'ip6tables', 'arptables']) {
    await lan.sw.exec('sysctl', ['-qw', `net.bridge.bridge-nf-call-${family}=0`], { allowFail: true });
  }
  if (opts.lossPct > 0) {
    const rule = `table ip bootstorm { chain loss { type filter hook prerouting priority raw; policy accept; ip saddr ${LAN.server} numgen random mod 1000 < ${Math.round(opts.lossPct * 10)} counter drop; }; }`;
    for (const ns of lan.clients) await ns.exec('nft', [rule]);
  }
}

/** Packets the `--loss` rules have dropped so far (0 without `--loss`). */
export async function lossDrops(topo: StormTopology): Promise<number> {
  let n = 0;
  for (const ns of [topo.client, topo.dhcpClient]) {
    const r = await ns.exec('nft', ['list', 'table', 'ip', 'bootstorm'], { allowFail: true });
    n += Number(/counter packets (\d+)/.exec(r.stdout)?.[1] ?? 0);
  }
  return n;
}
