// Per-domain activity proxies, each bound to the queue of the role that owns the domain's state,
// and each with the timeout profile that fits its work. A call routed to the wrong domain does
// not compile: every proxy is typed by its own domain's activities only.
import { ActivityCancellationType, proxyActivities } from '@temporalio/workflow';
import type { NotificationActivities, ServingActivities, TrackingActivities, TrainingActivities } from '../activities/index.js';
import { DEFAULT_QUEUES } from '../queues.js';
import type { PipelineSpec } from '../spec/schema.js';

/** Where a release's serving and GPU work goes; orchestration work runs on the workflow's own queue. */
export interface ReleaseQueues {
  serving?: string;
  gpu?: string;
}

/** A release's serving and gpu queues as its input names them (0.1 inputs name only `gpuTaskQueue`). */
export function releaseQueues(input: { queues?: ReleaseQueues; gpuTaskQueue?: string }): ReleaseQueues {
  return { serving: input.queues?.serving, gpu: input.queues?.gpu ?? input.gpuTaskQueue };
}

export function pipelineActivities(spec: PipelineSpec, queues: ReleaseQueues = {}) {
  const serving = queues.serving ?? DEFAULT_QUEUES.serving;
  return {
    /** gpu — training jobs: long, heartbeated (a dead worker is noticed in heartbeat_timeout), killed on cancel. */
    training: proxyActivities<TrainingActivities>({
      taskQueue: queues.gpu ?? DEFAULT_QUEUES.gpu,
      startToCloseTimeout: spec.train.timeout,
      heartbeatTimeout: spec.train.heartbeat_timeout,
      cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
      retry: { maximumAttempts: 3, initialInterval: '2s', backoffCoefficient: 2 },
    }),
    /** serving — candidate servers and evaluations against them: long, heartbeated, stopped on cancel. */
    candidates: proxyActivities<ServingActivities>({
      taskQueue: serving,
      startToCloseTimeout: '2h',
      heartbeatTimeout: '2m',
      cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
      retry: { maximumAttempts: 3, initialInterval: '2s', nonRetryableErrorTypes: ['ModelServerFailedToStart'] },
    }),
    /** serving — promote, stop, rollback and the smoke test on the stable endpoint. */
    serving: proxyActivities<ServingActivities>({
      taskQueue: serving,
      startToCloseTimeout: '15m',
      retry: { maximumAttempts: 3, initialInterval: '2s', nonRetryableErrorTypes: ['NoPreviousVersion'] },
    }),
    /** serving — one canary analysis measurement: short, and a failure is an answer the analysis counts, not a retry. */
    measure: proxyActivities<ServingActivities>({ taskQueue: serving, startToCloseTimeout: '1m', retry: { maximumAttempts: 2 } }),
    /** serving — one metrics sample: short; a failed sample counts as a breach rather than stalling the loop. */
    sample: proxyActivities<ServingActivities>({ taskQueue: serving, startToCloseTimeout: '1m', retry: { maximumAttempts: 2 } }),
    /** orchestration — MLflow: retried with back-off for as long as the spec lets the pipeline wait for it. */
    tracking: proxyActivities<TrackingActivities>({
      startToCloseTimeout: '2m',
      scheduleToCloseTimeout: spec.mlflow.max_unavailable,
      retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1m' },
    }),
    /** orchestration — notifications: best effort. */
    notify: proxyActivities<NotificationActivities>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 3 } }),
  };
}

export type PipelineActivities = ReturnType<typeof pipelineActivities>;
