import { allHandlersFinished, ApplicationFailure, CancellationScope, condition, ContinueAsNew, isCancellation, log, patched, workflowInfo } from '@temporalio/workflow';
import { formatGateReport } from '../quality/gate.js';
import { pipelineActivities, releaseQueues } from './activities.js';
import { awaitApproval } from './approval-wait.js';
import { auditTags } from './audit.js';
import { batchedTracking, championMetrics, endTracking, openTracking, registerRelease } from './tracking.js';
import { runCandidates, safeName, serveCandidate } from './candidates.js';
import { describeFailure, enterStage, initialStatus, notify, nowIso, type ApprovalWait, type ReleaseInput, type RunContext } from './context.js';
import { abortCanary, abortIfCanaryGone, newRolloutControl, runAnalysis, runCanary } from './canary.js';
import { registerHandlers } from './handlers.js';
import { parseReleaseInput } from './input.js';
import { monitor, rollback } from './monitor.js';
import { FINAL_STAGES, type Decision, type PipelineStatus, type VariantStatus } from './status.js';
import type { Snapshot } from '../activities/metrics/prometheus.js';
import type { PromoteResult } from '../activities/deploy/target.js';
import type { PipelineSpec } from '../spec/schema.js';

export type { ReleaseInput } from './context.js';

export interface ReleaseResult {
  status: 'completed' | 'rejected' | 'superseded' | 'rolled-back' | 'aborted';
  workflowId: string;
  release: string;
  deployedVersion?: string;
  modelVersion?: string;
  approval?: Decision;
  report: PipelineStatus;
}

/**
 * The release pipeline: train → evaluate → gate → approve → deploy → smoke → monitor.
 * One run per release (`release:<model>:<release>`); the `status` query shows every stage.
 */
export async function releasePipeline(raw: ReleaseInput): Promise<ReleaseResult> {
  // Validated at the top of every run, continue-as-new included: a run started by hand from the
  // Temporal UI gets the spec's defaults, or fails at once with InvalidSpec naming each field.
  // Runs recorded before this check used their input as given: replay them the same way.
  let input = patched('validated-release-input') ? parseReleaseInput(raw) : raw;
  // Scheduled runs leave the label empty: each gets the unique suffix Temporal gave its workflow id.
  if (!input.release) input = { ...input, release: safeName(workflowInfo().workflowId.replace(/^release:[^:]*:/, '')) };
  const spec = input.spec;
  const ctx: RunContext = {
    input,
    spec,
    status: input.carried?.status ?? initialStatus(input),
    acts: pipelineActivities(spec, releaseQueues(input), safeName(spec.name, input.release)),
    rolloutControl: input.carried?.canaryWait ? { ...input.carried.canaryWait } : newRolloutControl(),
  };
  registerHandlers(ctx);

  try {
    if (input.carried?.approvalWait) return await resumeApproval(ctx, input.carried.approvalWait);
    if (input.carried?.canaryWait) return await resumeCanary(ctx);
    if (input.carried) return await finishMonitoring(ctx, input.carried.previousSnapshot as Snapshot | null);
    return await runStages(ctx);
  } catch (err) {
    // Continue-as-new is thrown too, but it is the approval wait or the monitor going on, not a failure.
    if (!(err instanceof ContinueAsNew)) await CancellationScope.nonCancellable(() => closeOnError(ctx, err));
    throw err;
  }
}

async function runStages(ctx: RunContext): Promise<ReleaseResult> {
  const { spec, status, acts } = ctx;
  await openTracking(ctx);
  const variants = await runCandidates(ctx);

  enterStage(ctx, 'gating');
  const winner = pickWinner(variants);
  const best = winner ?? variants[0];
  status.gate = best?.gate;
  status.metrics = best?.metrics;
  // Batched runs log the gate report with the gate's outcome, in the same activity.
  const gateReport = best?.gate ? [{ artifactPath: 'gate-report.txt', text: formatGateReport(best.gate) }] : [];
  const batched = batchedTracking(ctx);
  if (status.mlflow && gateReport.length && !batched) await acts.tracking.mlflowLogText({ mlflowRunId: status.mlflow.runId, ...gateReport[0]! });
  if (!winner) {
    enterStage(ctx, 'gate-failed');
    await stopCandidates(ctx, variants, undefined);
    const report = variants.map((v) => `${v.name}:\n${v.gate ? formatGateReport(v.gate) : v.error}`).join('\n\n');
    await notify(ctx, 'gate-failed', `Release ${status.workflowId} failed the quality gate.\n${report}`);
    await endTracking(ctx, 'FAILED', { 'slipway.outcome': 'gate-failed' }, batched ? gateReport : []);
    throw ApplicationFailure.create({ type: 'GateFailed', nonRetryable: true, message: `quality gate failed:\n${report}`, details: [status.gate] });
  }
  status.selectedVariant = winner.name;
  if (status.mlflow && batched) {
    await acts.tracking.mlflowRecordRun({ mlflowRunId: status.mlflow.runId, texts: gateReport, metrics: championMetrics(winner.metrics ?? {}) });
  } else if (status.mlflow && winner.metrics && patched('champion-metrics-on-parent-run')) {
    await acts.tracking.mlflowLogMetrics({ mlflowRunId: status.mlflow.runId, metrics: championMetrics(winner.metrics) });
  }
  // Nothing is held while a person decides: unless the spec keeps it warm, the winner's server
  // stops with the others and starts again from its artifact at deploy.
  const coldWinner = servedAgainAtDeploy(spec);
  await stopCandidates(ctx, variants, coldWinner ? undefined : winner);
  if (coldWinner) winner.endpoint = undefined;

  let newer: string | undefined;
  if (spec.approval?.required && patched('supersede-waiting-releases')) {
    // This candidate passed its gate: an older release of the pipeline still waiting for approval
    // would only deploy something older, and (with schedules) keep later nightlies from running.
    ({ newerWaiting: newer } = await acts.tracking.supersedeWaitingReleases({ modelName: spec.model.name, pipeline: spec.name, workflowId: status.workflowId, startedAt: workflowInfo().startTime.toISOString() }));
  }
  // Reached the gate after a newer release did (backfills, overlapping runs): that one waits, not this.
  if (newer && spec.approval) {
    const superseded: Decision = { decision: 'superseded', by: newer, at: nowIso(), reason: `a newer release (${newer}) already waits for approval` };
    status.approval = { approvers: spec.approval.approvers, escalated: false, refused: [], decision: superseded };
  }
  return approveAndDeploy(ctx, winner, coldWinner);
}

/** A wait for approval that continued as new: it goes on, then deploys the winner chosen before. */
async function resumeApproval(ctx: RunContext, wait: ApprovalWait): Promise<ReleaseResult> {
  const winner = ctx.status.variants.find((v) => v.name === ctx.status.selectedVariant);
  if (!winner) throw ApplicationFailure.create({ type: 'InvalidInput', nonRetryable: true, message: `carried status: selectedVariant ${ctx.status.selectedVariant} is not among its variants` });
  return approveAndDeploy(ctx, winner, servedAgainAtDeploy(ctx.spec), wait);
}

/** From the approval gate on: the decision, then deploy (starting a winner stopped for the wait again), smoke and monitor. */
async function approveAndDeploy(ctx: RunContext, winner: VariantStatus, coldWinner: boolean, resumed?: ApprovalWait): Promise<ReleaseResult> {
  const { spec, status, acts } = ctx;
  const decision = status.approval?.decision ?? (await awaitApproval(ctx, resumed));
  if (status.mlflow && spec.approval?.required) {
    await acts.tracking.mlflowSetTags({
      mlflowRunId: status.mlflow.runId,
      tags: {
        'slipway.approval.decision': decision.decision,
        'slipway.approval.by': decision.by,
        'slipway.approval.at': decision.at,
        'slipway.approval.reason': decision.reason,
        // Runs recorded before the audit trail tagged only the decision.
        ...(patched('approval-audit-tags') ? auditTags(status) : {}),
      },
    });
  }
  if (decision.decision === 'superseded') {
    enterStage(ctx, 'superseded');
    await stopCandidates(ctx, [winner], undefined);
    await notify(ctx, 'superseded', `Release ${status.workflowId} will not deploy: superseded by ${decision.by} (${decision.reason}).`);
    await endTracking(ctx, 'FINISHED', { 'slipway.outcome': 'superseded' });
    await condition(allHandlersFinished);
    return result(ctx, 'superseded');
  }
  if (decision.decision === 'rejected') {
    enterStage(ctx, 'rejected');
    await stopCandidates(ctx, [winner], undefined);
    await endTracking(ctx, 'FINISHED', { 'slipway.outcome': 'rejected' });
    return result(ctx, 'rejected');
  }

  enterStage(ctx, 'deploying');
  const version = candidateVersion(ctx, winner);
  if (coldWinner) await serveCandidate(ctx, winner, version);
  // A canary takes traffic in steps before it becomes the live version; MLflow's champion moves
  // only after that, so an aborted canary never becomes champion.
  // Runs recorded before input validation carry their spec as given, without a rollout section.
  if ((spec.rollout as PipelineSpec['rollout'] | undefined)?.strategy === 'canary' && patched('canary-rollout')) {
    const outcome = await runCanary(ctx, version);
    if (outcome === 'aborted') return finish(ctx, 'aborted');
    enterStage(ctx, 'deploying');
  }
  return deploy(ctx, winner, version);
}

/** A canary whose pause continued as new: it goes on where it stood, then deploys as any canary does. */
async function resumeCanary(ctx: RunContext): Promise<ReleaseResult> {
  const winner = ctx.status.variants.find((v) => v.name === ctx.status.selectedVariant);
  const version = ctx.status.rollout?.canaryVersion;
  if (!winner || !version) throw ApplicationFailure.create({ type: 'InvalidInput', nonRetryable: true, message: `carried status: selectedVariant ${ctx.status.selectedVariant} is not among its variants, or no canary version` });
  const outcome = await runCanary(ctx, version, true);
  if (outcome === 'aborted') return finish(ctx, 'aborted');
  enterStage(ctx, 'deploying');
  return deploy(ctx, winner, version);
}

/** Makes `version` live (after its canary, if any), moves the champion, then smoke tests and monitors. */
async function deploy(ctx: RunContext, winner: VariantStatus, version: string): Promise<ReleaseResult> {
  const { spec, status, acts } = ctx;
  let promoted: PromoteResult;
  try {
    promoted = await acts.serving.promoteVersion({ target: spec.deploy.target, deploymentName: spec.name, version, port: spec.deploy.port });
  } catch (err) {
    // The canary's server died after its last step: aborted as during the steps, never made live.
    const r = status.rollout;
    if (r?.phase !== 'promoting' || !abortIfCanaryGone(ctx, r, err)) throw err;
    await abortCanary(ctx, r);
    return finish(ctx, 'aborted');
  }
  status.deployment = { version, endpoint: promoted.endpoint, previousVersion: promoted.previousVersion };
  // With a bake the champion moves only when the bake passes, so a bake that fails rolls back
  // traffic without touching the registry. Runs before this moved it first.
  const baking = status.rollout?.phase === 'promoting' && spec.rollout.bake !== undefined && !ctx.rollbackRequest;
  const championAfterBake = baking && patched('champion-after-bake');
  if (!championAfterBake) await makeChampion(ctx, winner);
  await notify(ctx, 'deployed', `Release ${status.workflowId} is live at ${promoted.endpoint} (version ${version}).`);
  if (status.rollout && status.rollout.phase !== 'skipped') {
    status.rollout.phase = 'completed';
    status.rollout.weight = 100;
    if (spec.rollout.bake && !ctx.rollbackRequest) {
      // The bake: all traffic on the new version, watched once more; a failure rolls back.
      const bake = await runAnalysis(ctx, status.rollout, 'bake', spec.rollout.bake.analysis, () => ctx.rollbackRequest !== undefined);
      if (bake.phase === 'failed') ctx.rollbackRequest ??= { by: 'system:bake', reason: bake.message ?? 'bake analysis failed' };
    }
  }
  if (ctx.rollbackRequest) return rolledBack(ctx);
  if (championAfterBake) await makeChampion(ctx, winner);

  enterStage(ctx, 'smoke-testing');
  const smoke = await acts.serving.smokeTest({ endpoint: promoted.endpoint, cases: spec.smoke.cases, timeoutMs: spec.smoke.timeout_ms });
  status.smoke = { passed: smoke.passed, failure: smoke.failure };
  if (!smoke.passed) {
    ctx.rollbackRequest ??= { by: 'system:smoke', reason: `smoke test failed: ${smoke.failure ?? 'unknown'}` };
  }
  return finishMonitoring(ctx, null);
}

async function finishMonitoring(ctx: RunContext, previous: Snapshot | null): Promise<ReleaseResult> {
  if (ctx.rollbackRequest) return rolledBack(ctx);
  const outcome = await monitor(ctx, previous);
  if (outcome.rolledBack) return finish(ctx, 'rolled-back');
  enterStage(ctx, 'completed');
  return finish(ctx, 'completed');
}

async function rolledBack(ctx: RunContext): Promise<ReleaseResult> {
  await rollback(ctx);
  return finish(ctx, 'rolled-back');
}

async function finish(ctx: RunContext, outcome: ReleaseResult['status']): Promise<ReleaseResult> {
  await endTracking(ctx, 'FINISHED', { 'slipway.outcome': outcome });
  await condition(allHandlersFinished);
  return result(ctx, outcome);
}

function result(ctx: RunContext, outcome: ReleaseResult['status']): ReleaseResult {
  return {
    status: outcome,
    workflowId: ctx.status.workflowId,
    release: ctx.input.release,
    deployedVersion: ctx.status.deployment?.version,
    modelVersion: ctx.status.deployment?.modelVersion,
    approval: ctx.status.approval?.decision,
    report: ctx.status,
  };
}

/** Registers the deployed model in MLflow and moves its `champion` alias there (the previous one is kept for a rollback). */
async function makeChampion(ctx: RunContext, winner: VariantStatus): Promise<void> {
  if (!ctx.status.deployment) return;
  const registered = await registerRelease(ctx, winner);
  if (registered) Object.assign(ctx.status.deployment, { modelVersion: registered.modelVersion, previousModelVersion: registered.previousChampion });
}

/** The best candidate that passed the gate: highest accuracy, then lowest p99. */
function pickWinner(variants: VariantStatus[]): VariantStatus | undefined {
  return variants
    .filter((v) => v.gate?.passed)
    .sort((a, b) => (b.metrics?.accuracy ?? 0) - (a.metrics?.accuracy ?? 0) || (a.metrics?.latency_p99_ms ?? 0) - (b.metrics?.latency_p99_ms ?? 0))[0];
}

/** A candidate's deployment version: the same name its training job had. */
function candidateVersion(ctx: RunContext, v: VariantStatus): string {
  return safeName(ctx.spec.name, ctx.input.release, v.name);
}

/** Whether the winner is served again from its artifact at deploy: it stopped for the approval wait, or it was evaluated on the cluster. */
function servedAgainAtDeploy(spec: PipelineSpec): boolean {
  return stopsWhileWaiting(spec) || spec.evaluate.serve_on === 'cluster';
}

/** Whether the winner stops during the approval wait (runs recorded before this kept it running). */
function stopsWhileWaiting(spec: PipelineSpec): boolean {
  return spec.approval?.required === true && !spec.approval.keep_candidate_warm && patched('cold-candidate-while-awaiting-approval');
}

async function stopCandidates(ctx: RunContext, variants: VariantStatus[], keep: VariantStatus | undefined): Promise<void> {
  for (const v of variants) {
    // Every variant, served or not: a lane may have started its server as the run failed.
    if (v === keep) continue;
    await ctx.acts.serving.stopCandidate({ target: ctx.spec.deploy.target, deploymentName: ctx.spec.name, version: candidateVersion(ctx, v) });
  }
}

/** Marks the run failed or cancelled, stops candidate servers and closes the MLflow run. */
async function closeOnError(ctx: RunContext, err: unknown): Promise<void> {
  if (FINAL_STAGES.has(ctx.status.stage)) return;
  const cancelled = isCancellation(err);
  ctx.status.error = describeFailure(err);
  enterStage(ctx, cancelled ? 'cancelled' : 'failed');
  try {
    await stopCandidates(ctx, ctx.status.variants, undefined);
    await endTracking(ctx, cancelled ? 'KILLED' : 'FAILED', { 'slipway.outcome': ctx.status.stage });
    if (!cancelled) await notify(ctx, 'failed', `Release ${ctx.status.workflowId} failed: ${ctx.status.error}`);
  } catch (cleanupErr) {
    log.warn('cleanup after failure did not finish', { error: String(cleanupErr) });
  }
}
