// Inputs and results of the evaluation and smoke activities. Everything here is small and
// JSON-serialisable: per-row results travel as a file path plus a digest, never as payload.

import type { LatencyBin } from '../../quality/latency-bins.js';

export interface EvaluateOptions {
  /** Base URL of an OpenAI-compatible server (`http://host:port`, `…/v1` or the full chat URL). */
  endpoint: string;
  /** Model name sent in each request; when absent, the first id from `GET /v1/models`. */
  model?: string;
  /** JSONL dataset: `{"prompt"|"messages", "expected", "scorer"?}` per line. */
  datasetPath: string;
  concurrency: number;
  /** Deadline for one attempt, from send to the whole body read. */
  requestTimeoutMs: number;
  /** Retries per row after the first attempt, on 408/429/5xx and network errors. */
  maxRetries: number;
  /** Where the per-row results JSONL is written. */
  outputDir: string;
  /** Prometheus endpoint of the serving process, read for peak memory; defaults to `<endpoint>/metrics`. */
  metricsUrl?: string;
  /** Artifact file name (without `.jsonl`); the same name overwrites, so reruns are idempotent. */
  runName?: string;
  /**
   * Ask for streamed answers (`"stream": true`, server-sent events) and measure time to first token
   * and inter-token latency, as vLLM's benchmark_serving does.
   */
  stream?: boolean;
}

/** Final failure kinds of a row (after retries). */
export type EvalErrorKind = 'http_5xx' | 'http_4xx' | 'timeout' | 'network' | 'empty' | 'invalid_response';

export interface EvalSummary {
  accuracy: number;
  total: number;
  correct: number;
  latency_p50_ms: number;
  latency_p95_ms: number;
  latency_p99_ms: number;
  /** The latencies as 20 equal bins (for the report's histogram); absent in summaries cached before. */
  latency_histogram?: LatencyBin[];
  /** HTTP attempts (retries included) per second of wall time between first send and last answer. */
  requests_per_second: number;
  /** Streamed evaluations only: time from send to the first content token, over answered rows. */
  ttft_p50_ms?: number;
  ttft_p95_ms?: number;
  ttft_p99_ms?: number;
  /** Streamed evaluations only: gaps between consecutive content tokens, over all answers. */
  itl_p50_ms?: number;
  itl_p95_ms?: number;
  itl_p99_ms?: number;
  /** Rows that failed, by kind; kinds with no failures are absent. */
  errors: Partial<Record<EvalErrorKind, number>>;
  retries: number;
  /** Peak memory of the serving process in GiB; null when not measured (`memory_note` says why). */
  memory_gb: number | null;
  /** Why memory was not measured, e.g. `http://…/metrics answered HTTP 404`. */
  memory_note?: string;
  /** What the first response that was not an OpenAI chat completion looked like (`errors.invalid_response` counts them). */
  first_invalid_response?: string;
  resultsPath: string;
  /** `sha256:<hex>` of the results file. */
  resultsDigest: string;
  /** `sha256:<hex>` of the dataset file's bytes. */
  datasetDigest: string;
  cached: boolean;
}

export interface EvalProgress {
  done: number;
  total: number;
  errors: number;
}

export interface EvalHooks {
  onProgress?(p: EvalProgress): void;
  /** Aborting stops dispatch and aborts the requests in flight; runEvaluation then rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** How the evaluated model is served: its command and code are part of the evaluation cache key. */
export interface ServeIdentity {
  /** The serve command as the spec gives it (placeholders such as `{port}` unexpanded). */
  command: string[];
  /** Absolute directory of the serving code; its files are hashed (see jobs/cache.ts digestTree). */
  cwd: string;
}

/** What identifies an evaluation for the cache, beyond the options themselves. */
export interface EvalCacheRequest {
  /** Identity of the model artifact; without it nothing is cached. */
  modelDigest?: string;
  serve?: ServeIdentity;
  /** False: do not reuse an earlier result (the fresh one still replaces it). Default true. */
  useCache?: boolean;
}

export type EvaluateModelInput = Omit<EvaluateOptions, 'outputDir' | 'runName'> & EvalCacheRequest & {
  /** Names the artifact idempotently, e.g. `<workflowId>-<variant>`. */
  runKey: string;
};

export interface SmokeCase {
  prompt: string;
  max_tokens: number;
}

export interface SmokeInput {
  endpoint: string;
  model?: string;
  /** Defaults to DEFAULT_SMOKE_CASES from the spec. */
  cases?: SmokeCase[];
  /** Per case; defaults to 30 s. */
  timeoutMs?: number;
}

export interface SmokeCaseResult {
  prompt: string;
  status: number | null;
  latency_ms: number;
  ok: boolean;
  error?: string;
  content_preview?: string;
}

export interface SmokeReport {
  passed: boolean;
  cases: SmokeCaseResult[];
  /** The first failing case and why, e.g. `"Hello": empty content`. */
  failure?: string;
}
