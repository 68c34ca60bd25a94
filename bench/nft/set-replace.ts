/**
 * Allowed-set replacement (spec §11.1: flush + add in one transaction): Gatehouse's netlink
 * batch against the same change made with `nft -f` (what a script around nft would do), in
 * the current network namespace. Run through bench/nft/run.sh (it makes a scratch namespace).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { networkConfigSchema } from '../../src/config/network.js';
import { createLogger } from '../../src/log.js';
import { firewallConfigSchema } from '../../src/nft/config.js';
import { allowedSetMessages, planFromConfig, rulesetMessages } from '../../src/nft/ruleset.js';
import { NftClient } from '../../src/nft/tables/client.js';

const plan = planFromConfig(firewallConfigSchema.parse({ table: 'ghbench', lanInterfaces: ['lan0'], uplinkInterfaces: ['uplink'] }), networkConfigSchema.parse({}));
const client = new NftClient({ logger: createLogger({ level: 'error' }) });
await client.commit(rulesetMessages(plan, []));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ghfw-bench-'));
const ips = (n: number, shift: number) => Array.from({ length: n }, (_, i) => `192.168.${(i + shift) >> 8 & 1}.${(i + shift) & 0xff}`);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

const rounds = Number(process.env.ROUNDS ?? 30);
console.log(`set replacement, ${rounds} rounds per size (ms per replacement: median / p95)`);
console.log('size   gatehouse(netlink)   nft -f (process)   ratio nft/gatehouse');
for (const size of [10, 250, 500]) {
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const set = ips(size, r);
    let t0 = performance.now();
    await client.commit(allowedSetMessages(plan, set));
    ours.push(performance.now() - t0);
    const file = path.join(tmp, 'set.nft');
    fs.writeFileSync(file, `flush set inet ghbench allowed_internet_access\nadd element inet ghbench allowed_internet_access { ${set.join(', ')} }\n`);
    t0 = performance.now();
    execFileSync('nft', ['-f', file]);
    theirs.push(performance.now() - t0);
  }
  const m1 = pct(ours, 50);
  const m2 = pct(theirs, 50);
  console.log(
    `${String(size).padEnd(6)} ${`${m1.toFixed(2)} / ${pct(ours, 95).toFixed(2)}`.padEnd(20)} ${`${m2.toFixed(2)} / ${pct(theirs, 95).toFixed(2)}`.padEnd(18)} ${(m2 / m1).toFixed(1)}x`,
  );
}
const keys = await client.listSetKeys(1, 'ghbench', 'allowed_internet_access');
console.log(`final set holds ${keys?.length} addresses; peak RSS of this process ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
client.close();
fs.rmSync(tmp, { recursive: true, force: true });
