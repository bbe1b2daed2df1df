// A finished release cannot change its own status: a later rollback is recorded by its
// rollbackRelease run, and whoever reads the release (CLI, the next rollback) looks there too.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { rollbackWorkflowId, type RollbackReleaseResult } from '../workflows/rollback-release.js';
import type { PipelineStatus } from '../workflows/status.js';

/** The release's status as its completed rollbackRelease left it, or undefined when none completed. */
export async function completedRollback(client: Client, releaseWorkflowId: string, releaseRunId: string): Promise<PipelineStatus | undefined> {
  const handle = client.workflow.getHandle(rollbackWorkflowId(releaseWorkflowId, releaseRunId));
  try {
    if ((await handle.describe()).status.name !== 'COMPLETED') return undefined;
    return ((await handle.result()) as RollbackReleaseResult).report;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}
