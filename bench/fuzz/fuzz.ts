import { nextInput, Rng } from './mutate.js';
import type { FuzzTarget } from './targets.js';

export interface FuzzResult {
  name: string;
  inputs: number;
  crashes: number;
  /** Inputs the decoder accepted (shows the mutations reach past the first checks). */
  accepted: number;
  seconds: number;
  perSecond: number;
}

/** Distinct crash sites reported per decoder; the rest are only counted. */
const MAX_REPORTED = 10;

/** Feeds `n` inputs to one decoder; `onCrash` gets each of the first crashing inputs. */
export function fuzzTarget(
  target: FuzzTarget,
  n: number,
  seed: number,
  onCrash: (input: Buffer, error: Error) => void,
): FuzzResult {
  const rng = new Rng(seed);
  const goldens = target.goldens();
  // Goldens are valid inputs (a few are valid-but-refused calls on purpose): if the decoder
  // accepted none, most mutations would test nothing.
  if (!goldens.some((g) => target.run(g))) throw new Error(`${target.name}: every golden input is refused`);
  let crashes = 0;
  let accepted = 0;
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const input = nextInput(rng, goldens, target.maxRandom);
    try {
      if (target.run(input)) accepted++;
    } catch (e) {
      crashes++;
      if (crashes <= MAX_REPORTED) onCrash(Buffer.from(input), e instanceof Error ? e : new Error(String(e)));
    }
  }
  const seconds = (performance.now() - start) / 1000;
  return { name: target.name, inputs: n, crashes, accepted, seconds, perSecond: n / seconds };
}
