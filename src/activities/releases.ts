// Reading a release from Temporal itself: who may act on it is decided from the release's own spec
// and state, never from what a caller says about it.
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import { completedRollback, startInput } from '../client/release-status.js';
import { parseRecordedSpec, type PipelineSpec } from '../spec/schema.js';
import { statusQuery, supersedeSignal } from '../workflows/messages.js';
import type { PipelineStatus } from '../workflows/status.js';

export interface ReleaseRecord {
  workflowId: string;
  runId: string;
  /** The first run of its continue-as-new chain: what a signed rollback names. */
  firstRunId?: string;
  /** The release's spec as it ran (defaults applied). */
  spec: PipelineSpec;
  specDir: string;
  queues?: { serving?: string; gpu?: string };
  /** The release's `status` query answer: stage, deployment, MLflow run. */
  status: PipelineStatus;
  running: boolean;
}

/** The activities that read releases; they use the worker's own Temporal client. */
export function createReleaseActivities() {
  return {
    /**
     * Signals `supersede` to every release of the same pipeline that started before `startedAt`
     * and still waits for approval, and names a newer one that already waits (then the caller is
     * the one superseded). Safe to repeat: a release that stopped waiting ignores the signal.
     */
    async supersedeWaitingReleases(input: { modelName: string; pipeline: string; workflowId: string; startedAt: string }): Promise<{ superseded: string[]; newerWaiting?: string }> {
      const { client } = Context.current();
      const query = `WorkflowType = 'releasePipeline' AND ExecutionStatus = 'Running' AND SlipwayStage = 'awaiting-approval' AND WorkflowId STARTS_WITH 'release:${input.modelName}:'`;
      const superseded: string[] = [];
      let newerWaiting: string | undefined;
      for await (const wf of client.workflow.list({ query })) {
        if (wf.workflowId === input.workflowId) continue;
        const handle = client.workflow.getHandle(wf.workflowId);
        try {
          if ((await handle.query(statusQuery)).pipeline !== input.pipeline) continue;
          if (wf.startTime >= new Date(input.startedAt)) {
            newerWaiting ??= wf.workflowId;
            continue;
          }
          await handle.signal(supersedeSignal, { by: input.workflowId, reason: `a newer release (${input.workflowId}) passed its gate` });
          superseded.push(wf.workflowId);
        } catch (err) {
          // One release that cannot answer (no worker on its queue) must not hold this one at its gate.
          log.warn('could not check or supersede a waiting release', { workflowId: wf.workflowId, error: String(err) });
        }
      }
      if (superseded.length) log.info('superseded older releases waiting for approval', { superseded });
      return { superseded, ...(newerWaiting ? { newerWaiting } : {}) };
    },

    /** Reads a release's start input (its spec) and its status. Fails `ReleaseNotFound` (non-retryable). */
    async readRelease(input: { workflowId: string }): Promise<ReleaseRecord> {
      const { client } = Context.current();
      const handle = client.workflow.getHandle(input.workflowId);
      let description;
      try {
        description = await handle.describe();
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) {
          throw ApplicationFailure.create({ type: 'ReleaseNotFound', nonRetryable: true, message: `no release ${input.workflowId}` });
        }
        throw err;
      }
      if (description.type !== 'releasePipeline') {
        throw ApplicationFailure.create({ type: 'ReleaseNotFound', nonRetryable: true, message: `${input.workflowId} is a ${description.type} workflow, not a release` });
      }
      const started = await startInput(client, input.workflowId, description.runId);
      const spec = parseRecordedSpec(started?.spec);
      if (!spec.success) {
        throw ApplicationFailure.create({ type: 'ReleaseNotFound', nonRetryable: true, message: `${input.workflowId} has no valid spec in its input` });
      }
      const status = (await completedRollback(client, input.workflowId, description.runId)) ?? (await handle.query(statusQuery));
      return {
        workflowId: input.workflowId,
        runId: description.runId,
        firstRunId: description.raw.workflowExecutionInfo?.firstRunId || description.runId,
        spec: spec.data,
        specDir: started?.specDir ?? '/',
        queues: started?.queues,
        status,
        running: description.status.name === 'RUNNING',
      };
    },
  };
}
