// Watching production after a deploy: sample metrics, count breaches, roll back when told or needed.
import { allHandlersFinished, ApplicationFailure, condition, continueAsNew, patched, workflowInfo } from '@temporalio/workflow';
import type { Snapshot } from '../activities/metrics/prometheus.js';
import { durationMs } from '../spec/schema.js';
import { auditTags } from './audit.js';
import { enterStage, notify, nowIso, type ReleaseInput, type RunContext } from './context.js';
import { historyTooLong } from './history-bound.js';
import { refreshDetails } from './metadata.js';
import type { releasePipeline } from './release-pipeline.js';

/** Samples per run before continuing as new: keeps each history small however long the monitor. */
export const SAMPLES_PER_RUN = 100;

export type MonitorOutcome = { rolledBack: false } | { rolledBack: true };

/**
 * Samples production metrics every interval for the spec's duration. A sample breaches when the
 * endpoint is unhealthy, or its error rate or p99 is over the limit; after N consecutive breaches,
 * or an operator's order, it rolls back.
 */
export async function monitor(ctx: RunContext, previous: Snapshot | null): Promise<MonitorOutcome> {
  const { spec, status } = ctx;
  const deployment = status.deployment;
  if (!deployment) throw new Error('monitor needs a deployment');
  const m = spec.monitor;
  status.monitor ??= { elapsedMs: 0, durationMs: durationMs(m.duration), samples: 0, breaches: 0, consecutiveBreaches: 0, continuedAsNew: 0 };
  const mon = status.monitor;
  if (status.stage !== 'monitoring') enterStage(ctx, 'monitoring');
  else refreshDetails(ctx);
  const interval = durationMs(m.interval);
  let samplesThisRun = 0;
  // The baseline is taken as monitoring starts, so the first interval after deploy is judged too:
  // a broken version is rolled back within breaches_to_rollback × interval, not one interval later.
  if (previous === null && mon.samples === 0 && patched('monitor-baseline-at-start')) {
    previous = (await ctx.acts.sample.sampleProductionMetrics({ endpoint: deployment.endpoint, previous: null })).snapshot;
  }

  // Runs recorded before this continued as new only after a sample: a flood of messages during a
  // long interval could outgrow the history first. Now the wait itself wakes when it is too long.
  const bounded = patched('monitor-continue-on-history');
  const due = () => bounded && historyTooLong(ctx.input.maxHistoryEvents);

  while (mon.elapsedMs < mon.durationMs) {
    const wait = Math.min(interval, mon.durationMs - mon.elapsedMs);
    const from = new Date().getTime();
    if (await condition(() => ctx.rollbackRequest !== undefined || due(), wait)) {
      if (ctx.rollbackRequest) break;
      // The interval goes on in the next run, from the same snapshot: no sample is lost or doubled.
      mon.elapsedMs += new Date().getTime() - from;
      await continueMonitoring(ctx, previous);
    }
    mon.elapsedMs += wait;
    const sample = await ctx.acts.sample.sampleProductionMetrics({ endpoint: deployment.endpoint, previous });
    previous = sample.snapshot ?? previous;
    mon.samples += 1;
    samplesThisRun += 1;
    const w = sample.window;
    mon.lastWindow = { requests: w?.requests ?? 0, errorRate: w?.errorRate ?? 0, latencyP99Ms: w?.latencyP99Ms ?? null, healthy: sample.healthy, reason: sample.reason };
    const breach = !sample.healthy || (w !== null && w.requests > 0 && (w.errorRate > m.max_error_rate || (w.latencyP99Ms ?? 0) > m.max_latency_p99_ms));
    mon.consecutiveBreaches = breach ? mon.consecutiveBreaches + 1 : 0;
    if (breach) mon.breaches += 1;
    refreshDetails(ctx);
    if (mon.consecutiveBreaches >= m.breaches_to_rollback) {
      ctx.rollbackRequest = { by: 'system:monitor', reason: breachReason(mon.consecutiveBreaches, mon.lastWindow) };
      break;
    }
    // An order that arrived during the sample is acted on here, not lost to continue-as-new.
    if (ctx.rollbackRequest) break;
    if (mon.elapsedMs < mon.durationMs && (samplesThisRun >= SAMPLES_PER_RUN || workflowInfo().continueAsNewSuggested || due())) {
      await continueMonitoring(ctx, previous);
    }
  }
  if (ctx.rollbackRequest) {
    await rollback(ctx);
    return { rolledBack: true };
  }
  return { rolledBack: false };
}

/** The monitor goes on in a new run of the chain, carrying its status and the last snapshot. */
async function continueMonitoring(ctx: RunContext, previous: Snapshot | null): Promise<never> {
  // Handlers first: an update still running would be lost with this run.
  await condition(allHandlersFinished);
  ctx.status.monitor!.continuedAsNew += 1;
  const next: ReleaseInput = { ...ctx.input, carried: { status: ctx.status, previousSnapshot: previous } };
  return continueAsNew<typeof releasePipeline>(next);
}

function breachReason(n: number, w: NonNullable<RunContext['status']['monitor']>['lastWindow']): string {
  if (!w) return `${n} consecutive breaches`;
  if (!w.healthy) return `${n} consecutive breaches: endpoint unhealthy (${w.reason ?? 'no answer'})`;
  return `${n} consecutive breaches: error rate ${w.errorRate.toFixed(3)}, p99 ${w.latencyP99Ms ?? 'n/a'} ms over ${w.requests} requests`;
}

/** Switches the stable endpoint back to the previous version and moves MLflow's champion back. */
export async function rollback(ctx: RunContext): Promise<void> {
  const { status, acts, spec } = ctx;
  const request = ctx.rollbackRequest ?? { by: 'system', reason: 'rollback' };
  if (status.deployment?.previousVersion === null) {
    // A first release has nothing to go back to: say so loudly rather than take the endpoint down.
    await notify(ctx, 'rollback-impossible', `Release ${status.workflowId} needs a rollback (${request.reason}) but there is no previous version.`);
    throw ApplicationFailure.create({
      type: 'NoPreviousVersion',
      nonRetryable: true,
      message: `rollback requested by ${request.by} (${request.reason}), but ${status.deployment?.version} is the first version of ${spec.name}: it stays live`,
    });
  }
  const result = await acts.serving.rollbackDeployment({ target: spec.deploy.target, deploymentName: spec.name, expectedLive: status.deployment?.version });
  const previousModelVersion = status.deployment?.previousModelVersion;
  if (status.mlflow && previousModelVersion) {
    await acts.tracking.mlflowRollback({ modelName: spec.model.name, toVersion: previousModelVersion });
  }
  status.rollback = {
    by: request.by,
    at: nowIso(),
    reason: request.reason,
    automatic: request.by.startsWith('system:'),
    restoredVersion: result.restoredVersion,
  };
  if (status.mlflow) {
    await acts.tracking.mlflowSetTags({
      mlflowRunId: status.mlflow.runId,
      tags: {
        'slipway.rollback.by': request.by,
        'slipway.rollback.reason': request.reason,
        'slipway.rollback.at': status.rollback.at,
        ...(patched('rollback-audit-tags') ? rollbackSignedTags(status, request.by) : {}),
      },
    });
  }
  enterStage(ctx, 'rolled-back');
  await notify(ctx, 'rolled-back', `Release ${status.workflowId} was rolled back to ${result.restoredVersion} by ${request.by}: ${request.reason}`);
}

/** Whether the rollback order was signed, and with which key, plus the whole audit trail. */
function rollbackSignedTags(status: RunContext['status'], by: string): Record<string, string> {
  const order = (status.audit ?? []).findLast((e) => e.action === 'rollback' && e.counted && e.by === by);
  return {
    'slipway.rollback.signed': String(order?.signed ?? false),
    ...(order?.fingerprint ? { 'slipway.rollback.fingerprint': order.fingerprint } : {}),
    'slipway.audit': auditTags(status)['slipway.audit'] ?? '',
  };
}
