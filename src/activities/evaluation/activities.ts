// The evaluation activities. They run on the gpu queue beside the model server they measure.
// evaluateModel heartbeats progress (so a lost worker is noticed and cancellation is delivered)
// and aborts its requests when cancelled; its only retries are the bounded per-request ones.
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import { heartbeating } from '../heartbeating.js';
import { evaluateWithCache } from './cached.js';
import { EvalError, type EvalErrorCode } from './errors.js';
import { runSmokeTest } from './smoke.js';
import type { EvalProgress, EvalSummary, EvaluateModelInput, SmokeInput, SmokeReport } from './types.js';

export interface EvaluationDeps {
  /** Where summaries of finished evaluations are kept by key (`<stateDir>/cache/eval`). */
  cacheDir: string;
  /** Where per-row results files are written (named by runKey). */
  outputDir: string;
  /** The worker's state dir, left out of the serving-code digest when it lies inside serve.cwd. */
  stateDir?: string;
}

/** Heartbeats at most this often; Temporal delivers cancellation with the heartbeat's reply. */
const HEARTBEAT_EVERY_MS = 1_000;

const FAILURE_TYPES: Record<EvalErrorCode, string> = {
  DATASET_INVALID: 'DatasetInvalid',
  INVALID_OPTIONS: 'InvalidEvalOptions',
  ENDPOINT_UNREACHABLE: 'EndpointUnreachable',
  INVALID_RESPONSES: 'InvalidResponses',
};

/** Builds the evaluation activities around their storage directories. */
export function createEvaluationActivities(deps: EvaluationDeps) {
  const exclude = [deps.cacheDir, deps.outputDir, ...(deps.stateDir ? [deps.stateDir] : [])];
  return {
    /**
     * Evaluates one model endpoint on a dataset. With a modelDigest, an identical earlier
     * evaluation (same model, dataset, settings, serve command and serving code) is returned from
     * the cache (`cached: true`) without sending a request, unless `useCache` is false.
     * Fails with `DatasetInvalid`/`InvalidEvalOptions`/`InvalidResponses` (non-retryable) or
     * `EndpointUnreachable`.
     */
    async evaluateModel(input: EvaluateModelInput): Promise<EvalSummary> {
      const ctx = Context.current();
      const { modelDigest, serve, useCache, runKey, ...opts } = input;
      let progress: EvalProgress = { done: 0, total: 0, errors: 0 };
      ctx.heartbeat(progress);
      const beat = setInterval(() => ctx.heartbeat(progress), HEARTBEAT_EVERY_MS);
      try {
        const summary = await evaluateWithCache(
          { ...opts, outputDir: deps.outputDir, runName: runKey },
          { modelDigest, serve, useCache },
          { cacheDir: deps.cacheDir, exclude },
          {
            signal: ctx.cancellationSignal,
            onProgress: (p) => (progress = p),
            onCacheHit: (key, hit) => log.info('evaluation served from cache', { runKey, key, resultsPath: hit.resultsPath }),
            onUncacheable: (why) => {
              if (modelDigest) log.warn('evaluation not cacheable', { runKey, why });
            },
          },
        );
        if (summary.cached) return summary;
        ctx.heartbeat(progress);
        if (summary.first_invalid_response) log.warn('some responses were not chat completions', { runKey, count: summary.errors.invalid_response, first: summary.first_invalid_response });
        log.info('evaluation finished', { runKey, accuracy: summary.accuracy, latency_p99_ms: summary.latency_p99_ms, errors: summary.errors, memory_gb: summary.memory_gb });
        return summary;
      } catch (err) {
        throw toFailure(err);
      } finally {
        clearInterval(beat);
      }
    },

    /** The post-deploy smoke test; returns the report (a failed case is data, not an error). */
    async smokeTest(input: SmokeInput): Promise<SmokeReport> {
      const report = await heartbeating(() => runSmokeTest(input));
      if (!report.passed) log.warn('smoke test failed', { failure: report.failure });
      return report;
    },
  };
}

export type EvaluationActivities = ReturnType<typeof createEvaluationActivities>;

function toFailure(err: unknown): unknown {
  if (!(err instanceof EvalError)) return err;
  return ApplicationFailure.create({ type: FAILURE_TYPES[err.code], message: err.message, nonRetryable: err.code !== 'ENDPOINT_UNREACHABLE', details: [{ code: err.code }] });
}
