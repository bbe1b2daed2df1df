// Is the canary's accuracy worse than the stable's beyond chance? A two-proportion z-test on the
// probes both answered, and a non-inferiority bound for "not worse". Pure: the workflow judges.

export interface ProportionTest {
  canary: { correct: number; n: number; accuracy: number };
  stable: { correct: number; n: number; accuracy: number };
  /** Pooled two-proportion z statistic; negative when the canary is less accurate. */
  z: number;
  /** One-sided critical value at the confidence. */
  zCritical: number;
  /** Lower bound of canary − stable accuracy at the confidence (unpooled). */
  diffLowerBound: number;
  verdict: 'worse' | 'not-worse' | 'undecided';
}

/** Inverse of the standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  const poly = (k: number[], x: number) => k.reduce((acc, v) => acc * x + v, 0);
  if (p < 0.02425) {
    const q = Math.sqrt(-2 * Math.log(p));
    return poly(c, q) / (poly(d, q) * q + 1);
  }
  if (p > 1 - 0.02425) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (poly(a, r) * q) / (poly(b, r) * r + 1);
}

/**
 * Worse: z below −z_crit (the canary's deficit is more than chance explains). Not worse: the
 * lower bound of the difference is above −maxDrop. Anything between: undecided (a person looks).
 */
export function compareAccuracy(canary: { correct: number; n: number }, stable: { correct: number; n: number }, confidence: number, maxDrop: number): ProportionTest {
  const p1 = canary.n ? canary.correct / canary.n : 0;
  const p2 = stable.n ? stable.correct / stable.n : 0;
  const pooled = canary.n + stable.n ? (canary.correct + stable.correct) / (canary.n + stable.n) : 0;
  const sePooled = Math.sqrt(pooled * (1 - pooled) * (1 / Math.max(1, canary.n) + 1 / Math.max(1, stable.n)));
  const z = sePooled === 0 ? (p1 === p2 ? 0 : p1 < p2 ? -Infinity : Infinity) : (p1 - p2) / sePooled;
  const zCritical = normalQuantile(confidence);
  const se = Math.sqrt((p1 * (1 - p1)) / Math.max(1, canary.n) + (p2 * (1 - p2)) / Math.max(1, stable.n));
  const diffLowerBound = p1 - p2 - zCritical * se;
  const verdict = z < -zCritical ? 'worse' : diffLowerBound > -maxDrop ? 'not-worse' : 'undecided';
  return { canary: { ...canary, accuracy: p1 }, stable: { ...stable, accuracy: p2 }, z, zCritical, diffLowerBound, verdict };
}
