import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { generateToken } from '../../src/sync/timeauth.js';
import { Netns, ip, needsRoot } from '../helpers/netns.js';
import { type SpawnedGatehouse, repoRoot, spawnGatehouse } from '../helpers/spawn-gatehouse.js';
import { tempDir } from '../helpers/tmp.js';
import { missingCommands } from '../helpers/tools.js';

/**
 * A hot-standby pair in namespaces (issue 16): two gateways `ha-g1`, `ha-g2`, each running
 * Gatehouse and keepalived (VRRPv3, 200 ms advertisements, the config of contrib/keepalived),
 * and a client `ha-c0` on the same bridge that only ever talks to the floating address.
 * kill -9 of the primary (Gatehouse and keepalived: the gateway dies) in the middle of a
 * registration storm; every acknowledged registration must be on the new primary.
 */

const P = 'ha';
const FLOATING = '10.77.0.254';
const OWN = { g1: '10.77.0.1', g2: '10.77.0.2' } as const;
const SECRET = 'netns-ha-secret';
const SUB = 'demo-mdbsync-sub';

const missing = needsRoot || missingCommands(['keepalived', 'curl', 'dig']);

async function until(what: string, fn: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function keepalivedConf(name: string, notify: string): string {
  const conf = fs.readFileSync(path.join(repoRoot, 'contrib/keepalived/keepalived.conf'), 'utf8');
  return conf
    .replace(/router_id \S+/, `router_id gatehouse-${name}`)
    .replace(/^\s*enable_script_security\n/m, '') // the test's scripts live in /tmp
    .replace(/virtual_ipaddress \{[^}]*\}/, `virtual_ipaddress {\n        ${FLOATING}/24 dev lan0\n    }`)
    .replace(/notify \S+/, `notify ${notify}`);
}

function gatehouseYaml(dir: string, name: 'g1' | 'g2'): string {
  const peer = name === 'g1' ? OWN.g2 : OWN.g1;
  return [
    `dataDir: ${dir}/data`,
    'demo: { seed: false }',
    'log: { level: info }',
    "http: { listen: ['0.0.0.0:80'] }",
    // UDP answers must leave from the address asked (dig rejects others): the floating address
    // is bound explicitly, which net.ipv4.ip_nonlocal_bind=1 allows while the standby lacks it.
    `dns: { listen: ['${OWN[name]}:53', '${FLOATING}:53'] }`,
    'dhcp: { enabled: false }',
    'tftp: { enabled: false }',
    'presence: { enabled: false }',
    'sso: { enabled: false }',
    `secrets: { haReplication: ${SECRET} }`,
    `ha: { enabled: true, node: ${name}, peer: 'http://${peer}', floatingAddresses: [${FLOATING}], mode: sync, addressCheckMs: 100, retryMs: 100 }`,
    '',
  ].join('\n');
}

interface Gateway {
  name: 'g1' | 'g2';
  ns: Netns;
  dir: string;
  gatehouse?: SpawnedGatehouse;
  startGatehouse(): Promise<void>;
  startKeepalived(): void;
  kill(): Promise<void>;
  holdsFloating(): Promise<boolean>;
}

t.test('hot standby in namespaces: kill -9 of the primary during a registration storm', { skip: missing }, async (t) => {
  const root = tempDir(t, 'gatehouse-ha-');
  const sw = new Netns(`${P}-sw`);
  const client = new Netns(`${P}-c0`);
  const gws: Gateway[] = [];
  const all: Netns[] = [sw, client];
  for (const ns of ['g1', 'g2', 'sw', 'c0']) await ip('netns', 'del', `${P}-${ns}`).catch(() => {});
  t.teardown(async () => {
    for (const ns of all) await ns.killAll();
    for (const ns of all) await ip('netns', 'del', ns.name).catch(() => {});
  });
  for (const ns of [sw, client]) {
    await ip('netns', 'add', ns.name);
    await ns.exec('ip', ['link', 'set', 'lo', 'up']);
  }
  await sw.exec('ip', ['link', 'add', 'br0', 'type', 'bridge']);
  await sw.exec('ip', ['link', 'set', 'br0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
  await sw.exec('ip', ['link', 'set', 'br0', 'up']);
  const attach = async (ns: Netns, tag: string, ifname: string, addr: string) => {
    await ip('link', 'add', `${P}${tag}`, 'netns', ns.name, 'type', 'veth', 'peer', 'name', `${P}${tag}s`, 'netns', sw.name);
    await ns.exec('ip', ['link', 'set', `${P}${tag}`, 'name', ifname]);
    await ns.exec('ip', ['addr', 'add', `${addr}/24`, 'dev', ifname]);
    await ns.exec('ip', ['link', 'set', ifname, 'up']);
    await sw.exec('ip', ['link', 'set', `${P}${tag}s`, 'master', 'br0', 'up']);
  };
  await attach(client, 'c0', 'eth0', '10.77.0.10');

  for (const name of ['g1', 'g2'] as const) {
    const ns = new Netns(`${P}-${name}`);
    all.push(ns);
    await ip('netns', 'add', ns.name);
    await ns.exec('ip', ['link', 'set', 'lo', 'up']);
    await attach(ns, name, 'lan0', OWN[name]);
    await ns.exec('sysctl', ['-qw', 'net.ipv4.ip_nonlocal_bind=1']);
    const dir = path.join(root, name);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'secret'), SECRET);
    const notify = path.join(dir, 'notify.sh');
    fs.writeFileSync(
      notify,
      `#!/bin/sh\nexport GATEHOUSE_URL=http://127.0.0.1 GATEHOUSE_HA_SECRET_FILE=${dir}/secret\nexec ${repoRoot}/contrib/keepalived/keepalived-notify.sh "$@"\n`,
      { mode: 0o755 },
    );
    fs.writeFileSync(path.join(dir, 'keepalived.conf'), keepalivedConf(name, notify));
    const gw: Gateway = {
      name,
      ns,
      dir,
      async startGatehouse() {
        gw.gatehouse = await spawnGatehouse({ configYaml: gatehouseYaml(dir, name), dir, netns: ns, startTimeoutMs: 60_000 });
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
        await ns.killAll();
      },
      async holdsFloating() {
        const r = await ns.exec('ip', ['-4', 'addr', 'show', 'dev', 'lan0']);
        return r.stdout.includes(`${FLOATING}/`);
      },
    };
    gws.push(gw);
  }
  const [g1, g2] = gws as [Gateway, Gateway];

  const curl = (args: string[]) => client.exec('curl', ['-s', '-m', '3', ...args], { allowFail: true });
  const status = async (gw: Gateway) => {
    const r = await curl(['-H', `Authorization: Bearer ${SECRET}`, `http://${OWN[gw.name]}/ha/v1/status`]);
    return JSON.parse(r.stdout || '{}') as { role?: string; term?: number; appliedR?: number; seq?: number; lagTransactions?: number };
  };

  // g1 first, so it becomes MASTER; then g2.
  await g1.startGatehouse();
  g1.startKeepalived();
  await until('g1 holds the floating address', () => g1.holdsFloating());
  await until('g1 is primary', async () => (await status(g1)).role === 'primary');
  await g2.startGatehouse();
  g2.startKeepalived();
  await until('g2 follows g1', async () => (await status(g2)).role === 'standby' && (await status(g1)).lagTransactions === 0);

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
  t.match(dig0.stdout.trim(), /^\d+\.\d+\.\d+\.\d+$/, "the standby's DNS answers from the replicated store");
  const refused = await curl(['-o', '/dev/null', '-w', '%{http_code}', '-H', 'Host: netboot', `http://${OWN.g2}/register?hostname=x&mac=52:54:00:77:ff:ff&rfs=0&hfs=0&room=pasteur&mtype=user`]);
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
  const dig = await client.exec('dig', ['@' + FLOATING, '+short', '+time=2', '+tries=3', `h${last}.prolo`, 'A']);
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
  await until('g1 caught up', async () => {
    const [s1, s2] = [await status(g1), await status(g2)];
    return s1.role === 'standby' && s1.seq === s2.seq && s1.appliedR === s2.appliedR;
  }, 30_000);
  await new Promise((r) => setTimeout(r, 1500));
  t.notOk(await g1.holdsFloating(), 'g1 did not take the address back (nopreempt)');
  t.equal((await status(g1)).role, 'standby');
  t.ok((await status(g2)).term! > 1, 'g2 is primary in a newer term');
  t.ok(await reg(9999), 'writes still go to g2');
});
