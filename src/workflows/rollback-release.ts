// Rolling back a release whose pipeline has finished: the release itself says who may, and the
// rollback is recorded exactly as one inside the pipeline would be.
import { ApplicationFailure, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import { z } from 'zod';
import { SignatureSchema } from '../approvals/statement.js';
import type { TrackingActivities } from '../activities/index.js';
import { formatSpecIssues } from '../spec/schema.js';
import { newRolloutControl } from './canary.js';
import { pipelineActivities } from './activities.js';
import { rollbackNotAllowed } from './approval.js';
import { audit, verifyDecision } from './audit.js';
import type { RunContext } from './context.js';
import { statusQuery } from './messages.js';
import { rollback } from './monitor.js';
import type { PipelineStatus } from './status.js';

const RollbackReleaseInputSchema = z
  .object({
    /** The finished release being rolled back (its workflow id). */
    releaseWorkflowId: z.string().min(1),
    requestedBy: z.string().trim().min(1, 'requestedBy is required: who orders the rollback'),
    reason: z.string().max(2000).default(''),
    /** Signed for the release (its workflow id and first run id), when its spec requires signatures. */
    signature: SignatureSchema.optional(),
  })
  .strict();
export type RollbackReleaseInput = z.input<typeof RollbackReleaseInputSchema>;

export interface RollbackReleaseResult {
  releaseWorkflowId: string;
  restoredVersion: string;
  rolledBackVersion: string;
  requestedBy: string;
  reason: string;
  /** The release's status with the rollback recorded (what `slipway status` shows for it). */
  report: PipelineStatus;
}

const { readRelease } = proxyActivities<TrackingActivities>({
  startToCloseTimeout: '1m',
  retry: { maximumAttempts: 5, initialInterval: '1s', nonRetryableErrorTypes: ['ReleaseNotFound'] },
});

/** The one rollbackRelease per run of a release: a second order finds it instead of repeating it. */
export function rollbackWorkflowId(releaseWorkflowId: string, releaseRunId: string): string {
  return `rollback:${releaseWorkflowId}:${releaseRunId}`;
}

const refuse = (type: string, message: string) => ApplicationFailure.create({ type, message, nonRetryable: true });

/**
 * Rolls back a finished release: the stable endpoint goes back to the previous version and MLflow's
 * `champion` alias with it. Who may is read from the release's own spec (its approvers, escalation
 * approvers and operators); anyone else gets `NotAllowed` before anything is touched.
 */
export async function rollbackRelease(raw: RollbackReleaseInput): Promise<RollbackReleaseResult> {
  const parsed = RollbackReleaseInputSchema.safeParse(raw);
  if (!parsed.success) throw refuse('InvalidInput', `invalid rollback input: ${formatSpecIssues(parsed.error).join('; ')}`);
  const input = parsed.data;
  const release = await readRelease({ workflowId: input.releaseWorkflowId });
  const notAllowed = rollbackNotAllowed(release.spec, input.requestedBy);
  if (notAllowed) throw refuse('NotAllowed', `${input.releaseWorkflowId}: ${notAllowed}`);
  const signedFor = { workflowId: release.workflowId, runId: release.firstRunId ?? release.runId };
  const verdict = verifyDecision(release.spec, release.status, signedFor, 'rollback', input.requestedBy, input.reason, input.signature);
  if (verdict.refusal) throw refuse('NotAllowed', `${input.releaseWorkflowId}: ${verdict.refusal}`);
  const expectedId = rollbackWorkflowId(release.workflowId, release.runId);
  if (workflowInfo().workflowId !== expectedId) throw refuse('InvalidInput', `start rollbackRelease with workflow id ${expectedId}, so that the release has one rollback`);
  if (release.running) throw refuse('ReleaseStillRunning', `${input.releaseWorkflowId} is still running: order the rollback from the release itself (update or signal rollback)`);
  const status = release.status;
  if (!status.deployment) throw refuse('NothingToRollBack', `${input.releaseWorkflowId} never deployed (stage ${status.stage}): nothing to roll back`);
  if (status.stage === 'rolled-back') throw refuse('NothingToRollBack', `${input.releaseWorkflowId} was already rolled back by ${status.rollback?.by ?? 'someone'}`);

  const ctx: RunContext = {
    input: { spec: release.spec, specDir: release.specDir, release: status.release, codeVersion: '' },
    spec: release.spec,
    status,
    acts: pipelineActivities(release.spec, release.queues ?? {}),
    rollbackRequest: { by: input.requestedBy, reason: input.reason },
    rolloutControl: newRolloutControl(),
  };
  if (input.signature || release.status.audit) {
    const fingerprint = verdict.fingerprint ? { fingerprint: verdict.fingerprint } : {};
    audit(status, { action: 'rollback', by: input.requestedBy, at: new Date().toISOString(), reason: input.reason, counted: true, signed: verdict.signed, ...fingerprint, ...(verdict.nonce ? { nonce: verdict.nonce } : {}), via: 'workflow' });
  }
  setHandler(statusQuery, () => ctx.status);
  // Only the version that is live now may be rolled back: undoing an older one would undo a later release.
  const { live } = await ctx.acts.serving.describeDeployment({ target: release.spec.deploy.target, deploymentName: release.spec.name });
  if (live !== status.deployment.version) {
    throw refuse('VersionNotLive', `${status.deployment.version} is not live in ${release.spec.name} (live: ${live ?? 'none'}); rolling it back would undo a later release`);
  }
  await rollback(ctx);
  if (status.mlflow) await ctx.acts.tracking.mlflowSetTags({ mlflowRunId: status.mlflow.runId, tags: { 'slipway.outcome': 'rolled-back' } });
  return {
    releaseWorkflowId: input.releaseWorkflowId,
    restoredVersion: status.rollback?.restoredVersion ?? '',
    rolledBackVersion: status.deployment.version,
    requestedBy: input.requestedBy,
    reason: input.reason,
    report: status,
  };
}
