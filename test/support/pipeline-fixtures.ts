import { ApplicationFailure } from '@temporalio/common';
import { PipelineSpecSchema, type PipelineSpec, type PipelineSpecInput } from '../../src/spec/schema.js';
import type { NotificationActivities, ServingActivities, TrackingActivities, TrainingActivities } from '../../src/activities/index.js';

/** A valid spec with small numbers; tests override what they exercise. */
export function testSpec(overrides: Partial<PipelineSpecInput> = {}): PipelineSpec {
  return PipelineSpecSchema.parse({
    name: 'unit-pipeline',
    model: { name: 'unit-model' },
    train: { command: ['true'] },
    serve: { command: ['true'] },
    evaluate: { dataset: 'eval.jsonl' },
    mlflow: { enabled: false },
    monitor: { duration: '1h', interval: '10m' },
    ...overrides,
  });
}

export interface SampleScript {
  (n: number): { healthy: boolean; requests: number; errorRate: number; latencyP99Ms: number | null };
}

type Stubbed = Pick<
  TrainingActivities & ServingActivities & NotificationActivities & TrackingActivities,
  'trainModel' | 'deployCandidate' | 'evaluateModel' | 'stopCandidate' | 'promoteVersion' | 'rollbackDeployment' | 'smokeTest' | 'sampleProductionMetrics' | 'notify' | 'supersedeWaitingReleases'
>;

/**
 * TEST DOUBLES for the GPU job, the model servers and production metrics, for tests of workflow
 * logic only (timers of days, approvals, breaches). The real activities are tested on their own
 * and end to end against the real servers.
 */
export function stubActivities(opts: { accuracy?: number | ((runKey: string) => number); sample?: SampleScript; firstRelease?: boolean } = {}) {
  const calls: string[] = [];
  const record = (name: string) => calls.push(name);
  let samples = 0;
  /** Most training jobs seen running at once (to check the GPU bound). */
  const training = { now: 0, max: 0 };
  const activities: Stubbed = {
    async trainModel(input) {
      record('trainModel');
      if (input.jobName.endsWith('-crashy')) {
        throw ApplicationFailure.create({ type: 'TrainingJobFailed', nonRetryable: true, message: 'training job exited with code 3: CUDA out of memory' });
      }
      training.max = Math.max(training.max, ++training.now);
      await new Promise((r) => setTimeout(r, 200));
      training.now -= 1;
      const artifact = { uri: `file:///models/${input.jobName}.pt`, sha256: 'sha256-test', size: 1 };
      return { artifactPath: `/models/${input.jobName}.pt`, artifactDigest: 'sha256-test', artifact, cacheKey: 'key', cached: false, resumedFromStep: null, finalStep: 10, finalLoss: 0.1, lossByStep: [{ step: 10, loss: 0.1 }], logPath: '/tmp/job.log', durationMs: 5 };
    },
    async deployCandidate() {
      record('deployCandidate');
      return { endpoint: 'http://127.0.0.1:9' };
    },
    async evaluateModel(input) {
      record('evaluateModel');
      const accuracy = typeof opts.accuracy === 'function' ? opts.accuracy(input.runKey) : (opts.accuracy ?? 0.92);
      return { accuracy, total: 100, correct: Math.round(accuracy * 100), latency_p50_ms: 20, latency_p95_ms: 40, latency_p99_ms: 60, requests_per_second: 50, errors: {}, retries: 0, memory_gb: 1, resultsPath: '/tmp/results.jsonl', resultsDigest: 'r', datasetDigest: 'd', cached: false };
    },
    async stopCandidate(input) {
      record(`stopCandidate:${input.version}`);
    },
    async promoteVersion(input) {
      record('promoteVersion');
      return { endpoint: `http://127.0.0.1:${input.port}`, previousVersion: opts.firstRelease ? null : 'v-previous' };
    },
    async rollbackDeployment() {
      record('rollbackDeployment');
      return { endpoint: 'http://127.0.0.1:8000', restoredVersion: 'v-previous', rolledBackVersion: 'v-new' };
    },
    async smokeTest() {
      record('smokeTest');
      return { passed: true, cases: [] };
    },
    async sampleProductionMetrics(input) {
      record('sampleProductionMetrics');
      // Like the real activity: a scrape with no earlier snapshot is a baseline and has no window.
      const snapshot = { at: samples, requestsByStatus: {}, buckets: [], count: 0, sum: 0, rssBytes: null, version: null };
      if (input.previous === null) return { snapshot, healthy: true, window: null };
      const s = (opts.sample ?? (() => ({ healthy: true, requests: 10, errorRate: 0, latencyP99Ms: 30 })))(samples++);
      return { snapshot, healthy: s.healthy, window: { requests: s.requests, errorRate: s.errorRate, latencyP99Ms: s.latencyP99Ms }, reason: s.healthy ? undefined : 'connection refused' };
    },
    async supersedeWaitingReleases() {
      record('supersedeWaitingReleases');
      return { superseded: [] };
    },
    async notify() {
      record('notify');
      return { delivered: true };
    },
  };
  return { activities, calls, training };
}

/**
 * TEST DOUBLES for a canary's router: `v-previous` is live, and each weight asked for is pushed to
 * `weights` and applied at once.
 */
export function canaryRouterDoubles(weights: number[]): Pick<ServingActivities, 'describeDeployment' | 'setCanaryWeight'> {
  return {
    async describeDeployment(input) {
      return { deploymentName: input.deploymentName, live: 'v-previous', previous: null, stableEndpoint: 'http://127.0.0.1:9', versions: [], canary: null, weights: { 'v-previous': 100 } };
    },
    async setCanaryWeight(input) {
      weights.push(input.weight);
      return { endpoint: 'http://127.0.0.1:9', weights: { [input.version]: input.weight, 'v-previous': 100 - input.weight } };
    },
  };
}
