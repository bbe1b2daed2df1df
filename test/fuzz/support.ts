// fast-check settings for the fuzz tests: a fixed seed in `npm test` (a failure reproduces), more
// runs and a fresh seed with `npm run test:chaos`. SLIPWAY_FUZZ_SCALE multiplies each test's run
// count; SLIPWAY_FUZZ_SEED is a number, or `random`. A failure prints its seed and counterexample.
import type { Parameters } from 'fast-check';

export function fuzzParams(runs: number): Parameters<unknown> {
  const seedVar = process.env.SLIPWAY_FUZZ_SEED;
  const seed = seedVar === 'random' ? Date.now() : Number(seedVar ?? 20261126);
  const scale = Number(process.env.SLIPWAY_FUZZ_SCALE ?? 1);
  return { seed, numRuns: Math.max(1, Math.round(runs * scale)) };
}
