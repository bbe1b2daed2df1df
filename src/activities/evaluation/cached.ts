// An evaluation that goes through the cache: the activity and `slipway eval --artifact` share it,
// so both reuse exactly when every input that can change the numbers is the same (see cache.ts).
import { EvalCache, evalCacheKeyFor } from './cache.js';
import { runEvaluation } from './harness.js';
import type { EvalCacheRequest, EvalHooks, EvalSummary, EvaluateOptions } from './types.js';

export interface EvalCacheDeps {
  /** `<stateDir>/cache/eval`. */
  cacheDir: string;
  /** Absolute paths left out of the serving-code digest (state and output dirs inside serve.cwd). */
  exclude: string[];
}

export interface CacheEvents {
  /** An identical earlier evaluation was returned; nothing was sent. */
  onCacheHit?(key: string, summary: EvalSummary): void;
  /** The evaluation cannot be cached (and ran); `why` says what was missing. */
  onUncacheable?(why: string): void;
}

/**
 * Returns the cached summary of an identical evaluation (`cached: true`) unless `useCache` is
 * false; otherwise runs it and stores the result, so `useCache: false` refreshes a stale entry.
 */
export async function evaluateWithCache(opts: EvaluateOptions, req: EvalCacheRequest, deps: EvalCacheDeps, hooks: EvalHooks & CacheEvents = {}): Promise<EvalSummary> {
  const cache = new EvalCache(deps.cacheDir);
  const k = await evalCacheKeyFor(opts, req, deps.exclude);
  if (k.key === null) hooks.onUncacheable?.(k.why);
  else if (req.useCache !== false) {
    const hit = await cache.get(k.key);
    if (hit) {
      hooks.onCacheHit?.(k.key, hit);
      return hit;
    }
  }
  const summary = await runEvaluation(opts, hooks);
  // A dataset edited while the evaluation ran would file the new numbers under the old key.
  if (k.key !== null && summary.datasetDigest === k.datasetDigest) await cache.put(k.key, summary);
  return summary;
}
