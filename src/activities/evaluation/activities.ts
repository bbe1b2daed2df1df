// The evaluation activities. They run on the gpu queue beside the model server they measure.
// evaluateModel heartbeats progress (so a lost worker is noticed and cancellation is delivered)
// and aborts its requests when cancelled; its only retries are the bounded per-request ones.
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import { EvalCache, evalCacheKey, fileDigest } from './cache.js';
import { EvalError } from './errors.js';
import { runEvaluation } from './harness.js';
import { runSmokeTest } from './smoke.js';
import type { EvalProgress, EvalSummary, EvaluateModelInput, SmokeInput, SmokeReport } from './types.js';

export interface EvaluationDeps {
  /** Where summaries of finished evaluations are kept by key. */
  cacheDir: string;
  /** Where per-row results files are written (named by runKey). */
  outputDir: string;
}

/** Heartbeats at most this often; Temporal delivers cancellation with the heartbeat's reply. */
const HEARTBEAT_EVERY_MS = 1_000;

/** Builds the evaluation activities around their storage directories. */
export function createEvaluationActivities(deps: EvaluationDeps) {
  const cache = new EvalCache(deps.cacheDir);
  return {
    /**
     * Evaluates one model endpoint on a dataset. With a modelDigest, an identical earlier
     * evaluation is returned from the cache (`cached: true`) without sending a request.
     * Fails with `DatasetInvalid`/`InvalidEvalOptions` (non-retryable) or `EndpointUnreachable`.
     */
    async evaluateModel(input: EvaluateModelInput): Promise<EvalSummary> {
      const ctx = Context.current();
      const { modelDigest, runKey, ...opts } = input;
      let key: string | undefined;
      if (modelDigest) {
        const datasetDigest = await fileDigest(opts.datasetPath).catch(() => undefined);
        if (datasetDigest) {
          key = evalCacheKey({ modelDigest, datasetDigest, model: opts.model, concurrency: opts.concurrency, requestTimeoutMs: opts.requestTimeoutMs, maxRetries: opts.maxRetries });
          const hit = await cache.get(key);
          if (hit) {
            log.info('evaluation served from cache', { runKey, key, resultsPath: hit.resultsPath });
            return hit;
          }
        }
      }
      let progress: EvalProgress = { done: 0, total: 0, errors: 0 };
      ctx.heartbeat(progress);
      const beat = setInterval(() => ctx.heartbeat(progress), HEARTBEAT_EVERY_MS);
      try {
        const summary = await runEvaluation(
          { ...opts, outputDir: deps.outputDir, runName: runKey },
          { signal: ctx.cancellationSignal, onProgress: (p) => (progress = p) },
        );
        ctx.heartbeat(progress);
        if (key) await cache.put(key, summary);
        log.info('evaluation finished', { runKey, accuracy: summary.accuracy, latency_p99_ms: summary.latency_p99_ms, errors: summary.errors });
        return summary;
      } catch (err) {
        throw toFailure(err);
      } finally {
        clearInterval(beat);
      }
    },

    /** The post-deploy smoke test; returns the report (a failed case is data, not an error). */
    async smokeTest(input: SmokeInput): Promise<SmokeReport> {
      const report = await runSmokeTest(input);
      if (!report.passed) log.warn('smoke test failed', { failure: report.failure });
      return report;
    },
  };
}

export type EvaluationActivities = ReturnType<typeof createEvaluationActivities>;

function toFailure(err: unknown): unknown {
  if (!(err instanceof EvalError)) return err;
  const type = { DATASET_INVALID: 'DatasetInvalid', INVALID_OPTIONS: 'InvalidEvalOptions', ENDPOINT_UNREACHABLE: 'EndpointUnreachable' }[err.code];
  return ApplicationFailure.create({ type, message: err.message, nonRetryable: err.code !== 'ENDPOINT_UNREACHABLE', details: [{ code: err.code }] });
}
