import { ALLOWED_SET, type RulesetPlan, expectedChains, expectedRules, expectedSets } from './ruleset.js';
import type { NftClient } from './tables/client.js';
import { FAMILIES } from './tables/constants.js';
import { printExpr } from './tables/print.js';

export interface RulesetCheck {
  /** The table exists and holds exactly the chains, rules and sets Gatehouse meant. */
  ok: boolean;
  present: boolean;
  problems: string[];
  /** Current members of allowed_internet_access, dotted quads. */
  allowed: string[];
}

/**
 * Reads Gatehouse's table back from the kernel and compares it with the plan: chains (hook,
 * priority, policy), every rule's expressions in order (compared as libnftnl prints them, which
 * ignores batch-only attributes such as set ids), and the sets' key types.
 */
export async function checkRuleset(client: NftClient, plan: RulesetPlan): Promise<RulesetCheck> {
  const F = FAMILIES.inet;
  const problems: string[] = [];
  if (!(await client.tableExists(F, plan.table))) {
    return {
      ok: false,
      present: false,
      problems: [`table inet ${plan.table} is missing; run "gatehouse fw up"`],
      allowed: [],
    };
  }
  const chains = await client.listChains(F, plan.table);
  for (const want of expectedChains(plan)) {
    const got = chains.find((c) => c.name === want.name);
    if (!got) {
      problems.push(`chain ${want.name} is missing`);
      continue;
    }
    if (
      got.type !== want.type ||
      got.hook?.hook !== want.hook?.hook ||
      got.hook?.priority !== want.hook?.priority ||
      got.policy !== want.policy
    ) {
      problems.push(
        `chain ${want.name} is type ${got.type} hook ${got.hook?.hook} priority ${got.hook?.priority} policy ${got.policy}, expected ${want.type} ${want.hook?.hook} ${want.hook?.priority} ${want.policy}`,
      );
    }
  }
  for (const c of chains)
    if (!expectedChains(plan).some((w) => w.name === c.name)) problems.push(`unexpected chain ${c.name}`);

  const rules = await client.listRules(F, plan.table);
  for (const chain of expectedChains(plan)) {
    const want = expectedRules(plan).filter((r) => r.chain === chain.name);
    const got = rules.filter((r) => r.chain === chain.name);
    if (got.length !== want.length)
      problems.push(`chain ${chain.name} has ${got.length} rules, expected ${want.length}`);
    for (let i = 0; i < Math.min(got.length, want.length); i++) {
      const a = got[i]!.exprs.map(printExpr).join(' ');
      const b = want[i]!.exprs.map(printExpr).join(' ');
      if (a !== b)
        problems.push(`chain ${chain.name} rule ${i + 1} differs from "${want[i]!.text}": kernel has ${a}`);
    }
  }

  const sets = await client.listSets(F, plan.table);
  for (const want of expectedSets(plan)) {
    const got = sets.find((s) => s.name === want.name);
    if (!got) problems.push(`set ${want.name} is missing`);
    else if (got.keyType !== want.keyType || got.keyLen !== want.keyLen)
      problems.push(`set ${want.name} has key type ${got.keyType}/${got.keyLen}`);
  }
  const keys = (await client.listSetKeys(F, plan.table, ALLOWED_SET)) ?? [];
  const allowed = keys.filter((k) => k.length === 4).map((k) => `${k[0]}.${k[1]}.${k[2]}.${k[3]}`);
  return { ok: problems.length === 0, present: true, problems, allowed };
}
