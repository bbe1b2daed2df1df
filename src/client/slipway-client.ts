import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowUpdateFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { TASK_QUEUE } from '../worker.js';
import { DEFAULT_GPU_TASK_QUEUE } from '../workflows/activities.js';
import { STAGE_KEY } from '../workflows/context.js';
import { approveUpdate, rejectUpdate, rollbackUpdate, statusQuery, type DecisionInput, type RollbackInput } from '../workflows/messages.js';
import type { ReleaseInput, ReleaseResult } from '../workflows/release-pipeline.js';
import type { RollbackReleaseInput, RollbackReleaseResult } from '../workflows/rollback-release.js';
import type { PipelineStatus, Stage } from '../workflows/status.js';
import { defaultRelease, releaseWorkflowId, type LoadedSpec } from './spec-file.js';

/** A refused request (not an approver, nothing to roll back...): the reason comes from the workflow. */
export class RequestRefusedError extends Error {
  readonly code = 'SLIPWAY_REFUSED';
}

export interface TrainingProgress {
  activity: string;
  attempt: number;
  step?: number;
  loss?: number;
  checkpoint?: string;
}

export interface ReleaseView extends PipelineStatus {
  execution: { status: string; runId: string; startTime: string; closeTime?: string };
  /** Live progress from the heartbeats of running activities (training, evaluation). */
  progress: TrainingProgress[];
}

export interface ListedRelease {
  workflowId: string;
  stage: string;
  status: string;
  startTime: string;
}

/** The typed client the CLI uses: start, watch, decide, roll back, cancel releases. */
export class SlipwayClient {
  constructor(
    readonly client: Client,
    readonly taskQueue: string = TASK_QUEUE,
  ) {}

  /** Starts a release; a second start of the same release attaches to it instead of duplicating it. */
  async start(loaded: LoadedSpec, opts: { release?: string; gpuTaskQueue?: string } = {}): Promise<{ workflowId: string; attached: boolean; status: string }> {
    const release = opts.release ?? defaultRelease(loaded);
    const workflowId = releaseWorkflowId(loaded.spec.model.name, release);
    const input: ReleaseInput = { spec: loaded.spec, specDir: loaded.dir, release, codeVersion: loaded.codeVersion, gpuTaskQueue: opts.gpuTaskQueue ?? DEFAULT_GPU_TASK_QUEUE };
    try {
      await this.client.workflow.start('releasePipeline', {
        taskQueue: this.taskQueue,
        workflowId,
        args: [input],
        // A finished release is never re-run under the same id; a failed or cancelled one may be.
        workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
        workflowIdConflictPolicy: 'FAIL',
        typedSearchAttributes: [{ key: STAGE_KEY, value: 'starting' }],
        memo: { specFile: loaded.file, specDigest: loaded.digest, rollbackAllowed: rollbackAllowed(loaded) },
      });
      return { workflowId, attached: false, status: 'RUNNING' };
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      // Running: attach to it. Finished: it stays finished; a new release needs a new label.
      const { status } = await this.handle(workflowId).describe();
      return { workflowId, attached: true, status: status.name };
    }
  }

  handle(workflowId: string): WorkflowHandle {
    return this.client.workflow.getHandle(workflowId);
  }

  /** The pipeline's own status (query) merged with the execution state and live heartbeats. */
  async status(workflowId: string): Promise<ReleaseView> {
    const handle = this.handle(workflowId);
    const description = await handle.describe();
    const status = await handle.query(statusQuery);
    return {
      ...status,
      execution: {
        status: description.status.name,
        runId: description.runId,
        startTime: description.startTime.toISOString(),
        closeTime: description.closeTime?.toISOString(),
      },
      progress: (description.raw.pendingActivities ?? []).map(progressOf),
    };
  }

  async result(workflowId: string): Promise<ReleaseResult> {
    return this.handle(workflowId).result() as Promise<ReleaseResult>;
  }

  async list(opts: { stage?: Stage; limit?: number } = {}): Promise<ListedRelease[]> {
    const query = ["WorkflowType = 'releasePipeline'", opts.stage ? `SlipwayStage = '${opts.stage}'` : ''].filter(Boolean).join(' AND ');
    const out: ListedRelease[] = [];
    for await (const wf of this.client.workflow.list({ query })) {
      out.push({ workflowId: wf.workflowId, stage: String(wf.typedSearchAttributes.get(STAGE_KEY) ?? ''), status: wf.status.name, startTime: wf.startTime.toISOString() });
      if (out.length >= (opts.limit ?? 50)) break;
    }
    return out;
  }

  approve(workflowId: string, input: DecisionInput): Promise<PipelineStatus> {
    return this.update(workflowId, () => this.handle(workflowId).executeUpdate(approveUpdate, { args: [input] }));
  }

  reject(workflowId: string, input: DecisionInput): Promise<PipelineStatus> {
    return this.update(workflowId, () => this.handle(workflowId).executeUpdate(rejectUpdate, { args: [input] }));
  }

  /**
   * Rolls back a release: a running one by update (the answer comes once it is done); a finished
   * one through a `rollbackRelease` workflow, since its pipeline no longer takes messages.
   */
  async rollback(workflowId: string, input: RollbackInput): Promise<PipelineStatus | RollbackReleaseResult> {
    const description = await this.handle(workflowId).describe();
    if (description.status.name === 'RUNNING') {
      return this.update(workflowId, () => this.handle(workflowId).executeUpdate(rollbackUpdate, { args: [input] }));
    }
    const final = (await this.handle(workflowId).query(statusQuery)) as PipelineStatus;
    if (!final.deployment) throw new RequestRefusedError(`${workflowId} never deployed (stage ${final.stage}): nothing to roll back`);
    if (final.stage === 'rolled-back') throw new RequestRefusedError(`${workflowId} was already rolled back by ${final.rollback?.by ?? 'someone'}`);
    const allowed = (description.memo?.rollbackAllowed ?? []) as string[];
    if (allowed.length && !allowed.includes(input.requestedBy)) {
      throw new RequestRefusedError(`${input.requestedBy} may not roll back ${workflowId} (allowed: ${allowed.join(', ')})`);
    }
    const args: RollbackReleaseInput = {
      releaseWorkflowId: workflowId,
      deploymentName: final.pipeline,
      deployedVersion: final.deployment.version,
      modelName: final.model,
      previousModelVersion: final.deployment.previousModelVersion ?? null,
      requestedBy: input.requestedBy,
      reason: input.reason ?? '',
    };
    try {
      return (await this.client.workflow.execute('rollbackRelease', {
        taskQueue: this.taskQueue,
        workflowId: `rollback:${workflowId}:${description.runId}`,
        workflowIdConflictPolicy: 'USE_EXISTING',
        args: [args],
      })) as RollbackReleaseResult;
    } catch (err) {
      // The deploy target refuses to undo a later release, or a first one: say why, plainly.
      const cause = err instanceof WorkflowFailedError ? innermost(err) : undefined;
      if (cause instanceof ApplicationFailure && (cause.type === 'VersionNotLive' || cause.type === 'NoPreviousVersion')) {
        throw new RequestRefusedError(`${workflowId}: ${cause.message}`);
      }
      throw err;
    }
  }

  async cancel(workflowId: string): Promise<void> {
    await this.handle(workflowId).cancel();
  }

  private async update(workflowId: string, call: () => Promise<PipelineStatus>): Promise<PipelineStatus> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) throw new RequestRefusedError(`${workflowId}: ${err.cause?.message ?? err.message}`);
      throw err;
    }
  }
}

function progressOf(a: temporal.api.workflow.v1.IPendingActivityInfo): TrainingProgress {
  const payload = a.heartbeatDetails?.payloads?.[0];
  const details = payload ? (defaultPayloadConverter.fromPayload(payload) as Record<string, unknown>) : {};
  return {
    activity: a.activityType?.name ?? 'unknown',
    attempt: a.attempt ?? 1,
    step: typeof details.step === 'number' ? details.step : undefined,
    loss: typeof details.loss === 'number' ? details.loss : undefined,
    checkpoint: typeof details.checkpoint === 'string' ? details.checkpoint : undefined,
  };
}

function innermost(err: Error): Error {
  let e: Error = err;
  while (e.cause instanceof Error) e = e.cause;
  return e;
}

/** Who may order a rollback once the release has finished (kept in the run's memo). */
function rollbackAllowed(loaded: LoadedSpec): string[] {
  const { approval, operators } = loaded.spec;
  return [...(approval?.approvers ?? []), ...(approval?.escalate_to ?? []), ...operators];
}
