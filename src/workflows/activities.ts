// Per-domain activity proxies, each bound to the queue of the role that owns the domain's state,
// and each with the timeout profile that fits its work. A call routed to the wrong domain does
// not compile: every proxy is typed by its own domain's activities only.
import { ActivityCancellationType, proxyActivities, type ActivityInterfaceFor } from '@temporalio/workflow';
import type { NotificationActivities, ServingActivities, TrackingActivities, TrainingActivities } from '../activities/index.js';
import { DEFAULT_QUEUES } from '../queues.js';
import { durationMs, type PipelineSpec } from '../spec/schema.js';
import { activitySummaries } from './metadata.js';

/** Cluster backends queue jobs: their train activity may take the queue wait plus the run (the activity bounds each). */
export function isClusterBackend(spec: PipelineSpec): boolean {
  return (spec.train.backend ?? 'local') !== 'local';
}

/** The train activity's start-to-close: the run alone locally; queue + run on a cluster. */
function trainTimeoutMs(spec: PipelineSpec): number {
  const run = durationMs(spec.train.timeout);
  return isClusterBackend(spec) ? run + durationMs(spec.train.queue_timeout ?? '24h') : run;
}

/** Where a release's serving and GPU work goes; orchestration work runs on the workflow's own queue. */
export interface ReleaseQueues {
  serving?: string;
  gpu?: string;
}

/** A release's serving and gpu queues as its input names them (0.1 inputs name only `gpuTaskQueue`). */
export function releaseQueues(input: { queues?: ReleaseQueues; gpuTaskQueue?: string }): ReleaseQueues {
  return { serving: input.queues?.serving, gpu: input.queues?.gpu ?? input.gpuTaskQueue };
}

/**
 * Every call carries a one-line summary (user metadata on its command), so the event history in the
 * Web UI reads as the pipeline: "train variant lr-3e-4", "promote tiny-llm-v7". `jobPrefix` is the
 * job name up to the variant (`<pipeline>-<release>`).
 */
export function pipelineActivities(spec: PipelineSpec, queues: ReleaseQueues = {}, jobPrefix = spec.name) {
  const serving = queues.serving ?? DEFAULT_QUEUES.serving;
  const s = summarized(activitySummaries(jobPrefix));
  return {
    /** gpu — training jobs: long, heartbeated (a dead worker is noticed in heartbeat_timeout), killed on cancel. */
    training: s(proxyActivities<TrainingActivities>({
      taskQueue: queues.gpu ?? DEFAULT_QUEUES.gpu,
      startToCloseTimeout: isClusterBackend(spec) ? trainTimeoutMs(spec) : spec.train.timeout,
      heartbeatTimeout: spec.train.heartbeat_timeout,
      cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
      retry: { maximumAttempts: 3, initialInterval: '2s', backoffCoefficient: 2 },
    })),
    /** gpu — evaluation servers run as cluster jobs (evaluate.serve_on: cluster): queue wait and startup, heartbeated, stopped on cancel. */
    clusterServers: s(proxyActivities<TrainingActivities>({
      taskQueue: queues.gpu ?? DEFAULT_QUEUES.gpu,
      startToCloseTimeout: durationMs(spec.train.queue_timeout ?? '24h') + durationMs(spec.serve.startup_timeout) + 120_000,
      heartbeatTimeout: '1m',
      cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
      retry: { maximumAttempts: 3, initialInterval: '2s', nonRetryableErrorTypes: ['ModelServerFailedToStart', 'TrainingResourcesUnsatisfiable'] },
    })),
    /** serving — candidate servers and evaluations against them: long, heartbeated, stopped on cancel. */
    candidates: s(proxyActivities<ServingActivities>({
      taskQueue: serving,
      startToCloseTimeout: '2h',
      heartbeatTimeout: '2m',
      cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
      retry: { maximumAttempts: 3, initialInterval: '2s', nonRetryableErrorTypes: ['ModelServerFailedToStart'] },
    })),
    /**
     * serving — promote, stop, rollback and the smoke test on the stable endpoint. They heartbeat, so a
     * serving worker killed mid-promote is noticed in 30 s and the retry finishes the switch.
     */
    serving: s(proxyActivities<ServingActivities>({
      taskQueue: serving,
      startToCloseTimeout: '15m',
      heartbeatTimeout: '30s',
      retry: { maximumAttempts: 3, initialInterval: '2s', nonRetryableErrorTypes: ['NoPreviousVersion'] },
    })),
    /** serving — one canary analysis measurement: short, and a failure is an answer the analysis counts, not a retry. */
    measure: s(proxyActivities<ServingActivities>({ taskQueue: serving, startToCloseTimeout: '1m', retry: { maximumAttempts: 2 } })),
    /** serving — one metrics sample: short; a failed sample counts as a breach rather than stalling the loop. */
    sample: s(proxyActivities<ServingActivities>({ taskQueue: serving, startToCloseTimeout: '1m', retry: { maximumAttempts: 2 } })),
    /** orchestration — MLflow: retried with back-off for as long as the spec lets the pipeline wait for it. */
    tracking: s(proxyActivities<TrackingActivities>({
      startToCloseTimeout: '2m',
      scheduleToCloseTimeout: spec.mlflow.max_unavailable,
      retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1m' },
    })),
    /** orchestration — notifications: best effort. */
    notify: s(proxyActivities<NotificationActivities>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 3 } })),
  };
}

/** Wraps a proxy so each call of a summarised activity passes its summary (other calls are unchanged). */
function summarized(summaries: Record<string, (input: Record<string, unknown>) => string>) {
  return <T>(proxy: ActivityInterfaceFor<T>): ActivityInterfaceFor<T> =>
    new Proxy(proxy, {
      get(target, name, receiver) {
        const fn = Reflect.get(target, name, receiver) as ActivityInterfaceFor<T>[keyof T];
        const summary = typeof name === 'string' ? summaries[name] : undefined;
        if (!summary || typeof fn !== 'function') return fn;
        const call = fn as unknown as { executeWithOptions(o: { summary: string }, args: unknown[]): Promise<unknown> };
        const wrapped = (...args: unknown[]) => call.executeWithOptions({ summary: summary((args[0] ?? {}) as Record<string, unknown>) }, args);
        return Object.assign(wrapped, { executeWithOptions: call.executeWithOptions });
      },
    });
}

export type PipelineActivities = ReturnType<typeof pipelineActivities>;
