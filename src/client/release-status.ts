// A finished release cannot change its own status: a later rollback is recorded by its
// rollbackRelease run, and whoever reads the release (CLI, the next rollback) looks there too.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { decodePayload } from './payloads.js';
import type { ReleaseInput } from '../workflows/context.js';
import { rollbackWorkflowId, type RollbackReleaseResult } from '../workflows/rollback-release.js';
import type { PipelineStatus } from '../workflows/status.js';

/** The input a run of a release was started with (unchecked: it may have been started by hand). */
export async function startInput(client: Client, workflowId: string, runId: string): Promise<Partial<ReleaseInput> | undefined> {
  // The first event of a run holds its input; every run of a chain carries the same spec and queues.
  const page = await client.workflowService.getWorkflowExecutionHistory({ namespace: client.options.namespace, execution: { workflowId, runId }, maximumPageSize: 1 });
  const payload = page.history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  return decodePayload<Partial<ReleaseInput>>(client, payload);
}

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
