import { proxyActivities } from '@temporalio/workflow';
import type { SlipwayActivities } from '../activities/index.js';

export interface RollbackReleaseInput {
  /** The finished release being rolled back (its workflow id). */
  releaseWorkflowId: string;
  deploymentName: string;
  /** The version the release deployed: only that one is rolled back, never a later release. */
  deployedVersion: string;
  modelName: string;
  /** MLflow version to make champion again; omitted when the release did not track in MLflow. */
  previousModelVersion?: string | null;
  requestedBy: string;
  reason: string;
}

export interface RollbackReleaseResult {
  releaseWorkflowId: string;
  restoredVersion: string;
  rolledBackVersion: string;
  requestedBy: string;
  reason: string;
}

const { rollbackDeployment, mlflowRollback } = proxyActivities<SlipwayActivities>({
  startToCloseTimeout: '15m',
  retry: { maximumAttempts: 5, initialInterval: '2s', nonRetryableErrorTypes: ['NoPreviousVersion', 'VersionNotLive'] },
});

/**
 * Rolls back a release whose pipeline has already finished (monitoring over): the stable endpoint
 * goes back to the previous version and MLflow's `champion` alias with it.
 */
export async function rollbackRelease(input: RollbackReleaseInput): Promise<RollbackReleaseResult> {
  const res = await rollbackDeployment({ deploymentName: input.deploymentName, expectedLive: input.deployedVersion });
  if (input.previousModelVersion) await mlflowRollback({ modelName: input.modelName, toVersion: input.previousModelVersion });
  return {
    releaseWorkflowId: input.releaseWorkflowId,
    restoredVersion: res.restoredVersion,
    rolledBackVersion: res.rolledBackVersion,
    requestedBy: input.requestedBy,
    reason: input.reason,
  };
}
