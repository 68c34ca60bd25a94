import type { SpawnedGatehouse } from '../helpers/spawn-gatehouse.js';

/**
 * `gh.waitForLog` in short slices. The helper's timer is not cleared when the line arrives, so
 * one long wait keeps the test process alive until it fires (a 120-s wait added minutes to a
 * file's run time); slices of 2 s bound that to 2 s.
 */
export async function waitForLog(
  gh: SpawnedGatehouse,
  pred: (r: Record<string, unknown>) => boolean,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await gh.waitForLog(pred, Math.max(1, Math.min(2000, deadline - Date.now())));
    } catch (e) {
      if (Date.now() >= deadline) throw e;
    }
  }
}
