// Train, serve and evaluate each candidate variant, several at once (bounded by the GPUs).
import type { EvalSummary } from '../activities/evaluation/harness.js';
import { evaluateGate } from '../quality/gate.js';
import { durationMs, memoryMiB, type PipelineSpec } from '../spec/schema.js';
import type { JobResources } from '../activities/jobs/backend.js';
import type { TrainResult } from '../activities/jobs/types.js';
import { isClusterBackend } from './activities.js';
import { CancellationScope, isCancellation } from '@temporalio/workflow';
import { describeFailure, enterStage, resolvePath, type RunContext } from './context.js';
import { trackCandidate, type CandidateTracker } from './tracking.js';
import { refreshDetails } from './metadata.js';
import type { VariantStatus } from './status.js';

type Params = Record<string, string | number | boolean>;

/** Job and deployment names derive from the run, so retries and restarts find the same ones. */
export function safeName(...parts: string[]): string {
  return parts.join('-').replace(/[^a-zA-Z0-9._-]/g, '_').slice(0, 120);
}

/** Runs `fn` over items with at most `limit` at once, deterministically (workflow-safe). */
async function boundedAll<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

export function gateMetrics(summary: EvalSummary): Record<string, number> {
  const m: Record<string, number> = {
    accuracy: summary.accuracy,
    latency_p50_ms: summary.latency_p50_ms,
    latency_p95_ms: summary.latency_p95_ms,
    latency_p99_ms: summary.latency_p99_ms,
    requests_per_second: summary.requests_per_second,
  };
  if (summary.memory_gb !== null) m.memory_gb = summary.memory_gb;
  for (const key of ['ttft_p50_ms', 'ttft_p95_ms', 'ttft_p99_ms', 'itl_p50_ms', 'itl_p95_ms', 'itl_p99_ms'] as const) {
    const value = summary[key];
    if (value !== undefined) m[key] = value;
  }
  return m;
}

/** Trains, serves and evaluates every variant; returns them with their metrics and gate reports. */
export async function runCandidates(ctx: RunContext): Promise<VariantStatus[]> {
  const { spec } = ctx;
  const variants = spec.evaluate.variants.length ? spec.evaluate.variants : [{ name: 'default', params: {} }];
  ctx.status.variants = variants.map((v) => ({ name: v.name, stage: 'pending', params: { ...spec.train.params, ...v.params } }));
  enterStage(ctx, 'training');
  // A failed variant is recorded and the others go on; only when all fail does the release fail.
  const failures: unknown[] = [];
  await boundedAll(ctx.status.variants, spec.evaluate.max_parallel, async (v) => {
    try {
      await runCandidate(ctx, v);
    } catch (err) {
      if (isCancellation(err)) throw err;
      Object.assign(v, { stage: 'failed', error: describeFailure(err) });
      refreshDetails(ctx);
      failures.push(err);
    }
  });
  if (failures.length === ctx.status.variants.length) throw failures[0];
  return ctx.status.variants;
}

/** What a cluster job adds to the train input: its resources, and queue and run bounds kept apart. */
function clusterTraining(spec: PipelineSpec): { resources?: JobResources; queueTimeoutMs?: number; runTimeoutMs?: number } {
  const r = spec.train.resources;
  const resources: JobResources | undefined = r && {
    ...(r.gpus !== undefined ? { gpus: r.gpus } : {}),
    ...(r.cpus !== undefined ? { cpus: r.cpus } : {}),
    ...(r.memory !== undefined ? { memoryMb: memoryMiB(r.memory) } : {}),
    ...(r.partition !== undefined ? { partition: r.partition } : {}),
  };
  return {
    ...(resources ? { resources } : {}),
    ...(isClusterBackend(spec) ? { queueTimeoutMs: durationMs(spec.train.queue_timeout ?? '24h'), runTimeoutMs: durationMs(spec.train.timeout) } : {}),
  };
}

async function runCandidate(ctx: RunContext, v: VariantStatus): Promise<void> {
  const track = await trackCandidate(ctx, v.name, v.params as Params);
  try {
    await trainServeEvaluate(ctx, v, track);
  } catch (err) {
    if (!isCancellation(err)) await track?.failed();
    throw err;
  }
}

async function trainServeEvaluate(ctx: RunContext, v: VariantStatus, track: CandidateTracker | undefined): Promise<void> {
  const { spec, input, acts, status } = ctx;
  const cwd = resolvePath(input.specDir, spec.train.cwd);
  const jobName = safeName(spec.name, input.release, v.name);

  v.stage = 'training';
  const trained = await acts.training.trainModel({
    jobName,
    backend: spec.train.backend,
    command: spec.train.command,
    cwd,
    env: spec.train.env,
    data: spec.train.data,
    params: v.params as Params,
    codeVersion: input.codeVersion,
    useCache: spec.train.cache,
    ...clusterTraining(spec),
  });
  Object.assign(v, {
    artifactPath: trained.artifactPath,
    artifactDigest: trained.artifactDigest,
    artifact: trained.artifact,
    cachedTraining: trained.cached,
    resumedFromStep: trained.resumedFromStep,
    finalLoss: trained.finalLoss,
  });
  refreshDetails(ctx);
  await track?.trained(trained.lossByStep);

  v.stage = 'serving';
  if (status.stage === 'training') enterStage(ctx, 'evaluating');
  if (spec.evaluate.serve_on !== 'cluster') return evaluateCandidate(ctx, v, trained, await serveCandidate(ctx, v, jobName), jobName, track);
  // The evaluation server is a job on the cluster, stopped as soon as its evaluation is done (or
  // failed, or the release was cancelled): a lane holds its cluster slot only while it evaluates.
  const { resources, queueTimeoutMs } = clusterTraining(spec);
  const server = await acts.clusterServers.serveOnCluster({
    jobName,
    backend: spec.train.backend,
    artifact: trained.artifact,
    serve: { command: spec.serve.command, cwd: resolvePath(input.specDir, spec.serve.cwd), healthPath: spec.serve.health_path, startupTimeoutMs: durationMs(spec.serve.startup_timeout) },
    ...(resources ? { resources } : {}),
    ...(queueTimeoutMs !== undefined ? { queueTimeoutMs } : {}),
  });
  try {
    await evaluateCandidate(ctx, v, trained, server.endpoint, jobName, track);
  } finally {
    await CancellationScope.nonCancellable(() => acts.clusterServers.stopClusterServer({ backend: spec.train.backend, job: server.job }));
  }
}

/** Evaluates `v`'s server at `endpoint` and judges it against the gates. */
async function evaluateCandidate(ctx: RunContext, v: VariantStatus, trained: TrainResult, endpoint: string, jobName: string, track: CandidateTracker | undefined): Promise<void> {
  const { spec, input, acts, status } = ctx;
  v.stage = 'evaluating';
  const summary = await acts.candidates.evaluateModel({
    endpoint,
    metricsUrl: `${endpoint}/metrics`,
    datasetPath: resolvePath(input.specDir, spec.evaluate.dataset),
    concurrency: spec.evaluate.concurrency,
    requestTimeoutMs: spec.evaluate.request_timeout_ms,
    maxRetries: spec.evaluate.max_retries,
    modelDigest: trained.artifactDigest,
    runKey: jobName,
    // What serves the model is part of what the evaluation measured (the cache key).
    serve: { command: spec.serve.command, cwd: resolvePath(input.specDir, spec.serve.cwd) },
    useCache: spec.evaluate.cache !== false,
    ...(spec.evaluate.stream && { stream: true }),
  });
  v.metrics = gateMetrics(summary);
  v.resultsPath = summary.resultsPath;
  v.gate = evaluateGate(v.metrics, spec.gates, status.champion?.metrics);
  v.stage = 'done';
  refreshDetails(ctx);
  await track?.evaluated(v.metrics, { 'slipway.artifact_digest': trained.artifactDigest, 'slipway.gate': v.gate.passed ? 'passed' : 'failed', 'slipway.eval_results': summary.resultsPath });
}

/**
 * Starts `v`'s model server as deployment version `version` from its artifact, and records its
 * endpoint. The serving host fetches the artifact by URI (verified by digest), so this also
 * restarts a candidate that was stopped while its release waited for approval.
 */
export async function serveCandidate(ctx: RunContext, v: VariantStatus, version: string): Promise<string> {
  const { spec, input } = ctx;
  const served = await ctx.acts.candidates.deployCandidate({
    target: spec.deploy.target,
    deploymentName: spec.name,
    version,
    // Runs recorded before artifacts travelled by URI have only the path.
    ...(v.artifact ? { artifact: v.artifact } : { artifactPath: v.artifactPath }),
    serve: {
      command: spec.serve.command,
      cwd: resolvePath(input.specDir, spec.serve.cwd),
      healthPath: spec.serve.health_path,
      startupTimeoutMs: durationMs(spec.serve.startup_timeout),
    },
  });
  v.endpoint = served.endpoint;
  return served.endpoint;
}

