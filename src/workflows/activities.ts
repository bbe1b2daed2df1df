// Timeout and retry profiles, named once: each kind of work gets the policy that fits it.
import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type { SlipwayActivities } from '../activities/index.js';
import type { PipelineSpec } from '../spec/schema.js';

export const DEFAULT_GPU_TASK_QUEUE = 'slipway-gpu';

export function pipelineActivities(spec: PipelineSpec, gpuTaskQueue: string) {
  return {
    /** GPU jobs: long, heartbeated (a dead worker is noticed in heartbeat_timeout), killed on cancel. */
    gpu: proxyActivities<SlipwayActivities>({
      taskQueue: gpuTaskQueue,
      startToCloseTimeout: spec.train.timeout,
      heartbeatTimeout: spec.train.heartbeat_timeout,
      cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
      retry: { maximumAttempts: 3, initialInterval: '2s', backoffCoefficient: 2 },
    }),
    /** Evaluation and candidate servers run beside the GPU too. */
    evaluation: proxyActivities<SlipwayActivities>({
      taskQueue: gpuTaskQueue,
      startToCloseTimeout: '2h',
      heartbeatTimeout: '2m',
      cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
      retry: { maximumAttempts: 3, initialInterval: '2s', nonRetryableErrorTypes: ['ModelServerFailedToStart'] },
    }),
    deploy: proxyActivities<SlipwayActivities>({
      startToCloseTimeout: '15m',
      retry: { maximumAttempts: 3, initialInterval: '2s', nonRetryableErrorTypes: ['NoPreviousVersion'] },
    }),
    /** One metrics sample: short; a failed sample counts as a breach rather than stalling the loop. */
    sample: proxyActivities<SlipwayActivities>({ startToCloseTimeout: '1m', retry: { maximumAttempts: 2 } }),
    /** MLflow: retried with back-off for as long as the spec lets the pipeline wait for it. */
    mlflow: proxyActivities<SlipwayActivities>({
      startToCloseTimeout: '2m',
      scheduleToCloseTimeout: spec.mlflow.max_unavailable,
      retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1m' },
    }),
    notify: proxyActivities<SlipwayActivities>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 3 } }),
  };
}

export type PipelineActivities = ReturnType<typeof pipelineActivities>;
