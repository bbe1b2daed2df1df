import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError, type Client, type WorkflowExecutionDescription, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, defaultPayloadConverter, type UpdateDefinition } from '@temporalio/common';
import { optionalTsToDate } from '@temporalio/common/lib/time.js';
import type { temporal } from '@temporalio/proto';
import proto from '@temporalio/proto';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_QUEUES, type Role, type SlipwayQueues } from '../queues.js';
import { STAGE_KEY } from '../workflows/context.js';
import { approveUpdate, rejectUpdate, rollbackUpdate, rolloutUpdates, statusQuery, type DecisionInput, type RollbackInput, type RolloutAction, type RolloutOrder } from '../workflows/messages.js';
import { releaseQueues } from '../workflows/activities.js';
import type { ReleaseInput, ReleaseResult } from '../workflows/release-pipeline.js';
import { rollbackWorkflowId, type RollbackReleaseInput, type RollbackReleaseResult } from '../workflows/rollback-release.js';
import { FINAL_STAGES, type PipelineStatus, type Stage } from '../workflows/status.js';
import { decodePayload } from './payloads.js';
import { completedRollback, startInput } from './release-status.js';
import { RELEASE_ID_POLICIES, releaseStart } from './release-start.js';
import { defaultRelease, type LoadedSpec } from './spec-file.js';

/** A refused request (not an approver, nothing to roll back...): the reason comes from the workflow. */
export class RequestRefusedError extends Error {
  readonly code = 'SLIPWAY_REFUSED';
}

export interface TrainingProgress {
  activity: string;
  attempt: number;
  step?: number;
  /** The training job's total steps, when it reports them. */
  totalSteps?: number;
  loss?: number;
  checkpoint?: string;
  /** Evaluation: rows done of total, and rows that failed. */
  done?: number;
  total?: number;
  errors?: number;
  /** A cluster job's place: `pending` with the engine's reason while it waits in the queue. */
  job?: { id: string; state: 'pending' | 'running'; reason?: string };
}

export interface ReleaseView extends PipelineStatus {
  execution: { status: string; runId: string; startTime: string; closeTime?: string };
  /** Live progress from the heartbeats of running activities (training, evaluation). */
  progress: TrainingProgress[];
  /** What keeps the release from moving, e.g. a task queue that no worker polls. */
  warnings: string[];
}

export interface ListedRelease {
  workflowId: string;
  /** The release's stage; for one ended from outside (terminated, timed out), that end: `terminated`, `timed-out`. */
  stage: string;
  /** The stage it was in when it ended from outside; absent otherwise. */
  endedIn?: string;
  status: string;
  startTime: string;
  /** Who may decide, for a release waiting for approval. */
  awaiting?: string[];
}

/** How long an update whose calls time out is sent again before the error reaches the caller. */
const UPDATE_RETRY_MS = 120_000;

/** The typed client the CLI uses: start, watch, decide, roll back, cancel releases. */
export class SlipwayClient {
  readonly queues: SlipwayQueues;

  /** `queues` may also be the orchestration queue's name alone (the 0.1 constructor). */
  constructor(
    readonly client: Client,
    queues: Partial<SlipwayQueues> | string = {},
    private readonly opts: { updateAttemptMs?: number } = {},
  ) {
    this.queues = { ...DEFAULT_QUEUES, ...(typeof queues === 'string' ? { orchestration: queues } : queues) };
  }

  /** Starts a release; a second start of the same release attaches to it instead of duplicating it. */
  async start(loaded: LoadedSpec, opts: { release?: string; startedBy?: string } = {}): Promise<{ workflowId: string; attached: boolean; status: string }> {
    const { workflowType, ...start } = releaseStart(loaded, { release: opts.release ?? defaultRelease(loaded), queues: this.queues, startedBy: opts.startedBy });
    try {
      await this.client.workflow.start(workflowType, { ...start, ...RELEASE_ID_POLICIES });
      return { workflowId: start.workflowId, attached: false, status: 'RUNNING' };
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      // Running: attach to it. Finished: it stays finished; a new release needs a new label.
      const { status } = await this.handle(start.workflowId).describe();
      return { workflowId: start.workflowId, attached: true, status: status.name };
    }
  }

  handle(workflowId: string): WorkflowHandle {
    return this.client.workflow.getHandle(workflowId);
  }

  /** The pipeline's own status (query) merged with the execution state and live heartbeats. */
  async status(workflowId: string): Promise<ReleaseView> {
    const handle = this.handle(workflowId);
    const description = await handle.describe();
    let status = await handle.query(statusQuery);
    // A finished release rolled back later: its rollbackRelease run holds the recorded rollback.
    if (description.status.name !== 'RUNNING') status = (await completedRollback(this.client, workflowId, description.runId)) ?? status;
    return {
      ...status,
      execution: {
        status: description.status.name,
        runId: description.runId,
        startTime: description.startTime.toISOString(),
        closeTime: description.closeTime?.toISOString(),
      },
      progress: await Promise.all((description.raw.pendingActivities ?? []).map((a) => progressOf(this.client, a))),
      // Warnings are a help, never a reason for `status` to fail (e.g. an API key without describeTaskQueue).
      warnings: description.status.name === 'RUNNING' ? await this.unpolledQueues(workflowId, description).catch(() => []) : [],
    };
  }

  /** A run's start input never changes: read it once per run, not on every `status` poll of `run --wait`. */
  private readonly startInputs = new Map<string, Promise<Partial<ReleaseInput>>>();
  private startInputOf(workflowId: string, runId: string): Promise<Partial<ReleaseInput>> {
    const key = `${workflowId}/${runId}`;
    let input = this.startInputs.get(key);
    if (!input) {
      input = startInput(this.client, workflowId, runId).then((i) => i ?? {});
      input.catch(() => this.startInputs.delete(key));
      this.startInputs.set(key, input);
    }
    return input;
  }

  /** The queues this release is waiting on (its workflow's, and those of its pending activities) that no worker polls. */
  private async unpolledQueues(workflowId: string, description: WorkflowExecutionDescription): Promise<string[]> {
    const named = releaseQueues(await this.startInputOf(workflowId, description.runId));
    const queueOf: SlipwayQueues = { orchestration: description.taskQueue, serving: named.serving ?? DEFAULT_QUEUES.serving, gpu: named.gpu ?? DEFAULT_QUEUES.gpu };
    const waitingOn = new Set<Role>(['orchestration']);
    for (const a of description.raw.pendingActivities ?? []) waitingOn.add(roleOfActivity(a.activityType?.name ?? ''));
    const warnings: string[] = [];
    for (const role of waitingOn) {
      const queue = queueOf[role];
      const { pollers } = await this.client.workflowService.describeTaskQueue({
        namespace: this.client.options.namespace,
        taskQueue: { name: queue },
        taskQueueType: role === 'orchestration' ? proto.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW : proto.temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
      });
      if (pollers?.length) continue;
      const flag = queue === DEFAULT_QUEUES[role] ? '' : ` ${QUEUE_FLAGS[role]} ${queue}`;
      warnings.push(`no worker polls ${queue} (the ${role} role): start one with \`slipway worker --roles ${role}${flag}\``);
    }
    return warnings;
  }

  async result(workflowId: string): Promise<ReleaseResult> {
    return this.handle(workflowId).result() as Promise<ReleaseResult>;
  }

  async list(opts: { stage?: Stage; limit?: number } = {}): Promise<ListedRelease[]> {
    // A release terminated from outside keeps the stage it last set: only running ones are in a stage that is not final.
    const stageFilter = opts.stage ? `SlipwayStage = '${opts.stage}'${FINAL_STAGES.has(opts.stage) ? '' : " AND ExecutionStatus = 'Running'"}` : '';
    const query = ["WorkflowType = 'releasePipeline'", stageFilter].filter(Boolean).join(' AND ');
    const out: ListedRelease[] = [];
    const limit = opts.limit ?? 50;
    // The raw listing: the SDK's list() decodes every memo, and one release whose payloads this client
    // cannot decrypt (no codec key here) would fail the whole list. Id, stage, state and start need no key.
    let nextPageToken: Uint8Array | undefined;
    do {
      const page = await this.client.workflowService.listWorkflowExecutions({ namespace: this.client.options.namespace, query, pageSize: Math.min(limit, 100), nextPageToken });
      for (const e of page.executions ?? []) {
        if (out.length >= limit) break;
        out.push({ workflowId: e.execution?.workflowId ?? '', ...listedStage(stageOf(e), statusName(e.status)), status: statusName(e.status), startTime: optionalTsToDate(e.startTime)?.toISOString() ?? '' });
      }
      nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
    } while (nextPageToken && out.length < limit);
    // Who is awaited is in the release's own status: ask only the releases that wait for someone.
    await Promise.all(
      out
        .filter((r) => r.stage === 'awaiting-approval' && r.status === 'RUNNING')
        .map(async (r) => {
          const status = await this.handle(r.workflowId).query(statusQuery).catch(() => undefined);
          if (status?.approval && !status.approval.decision) r.awaiting = status.approval.approvers;
        }),
    );
    return out;
  }

  /**
   * Approves; answers with the stage the release moved on to (or its status after a few seconds),
   * or with the status the vote left when `movedOn` is false.
   */
  async approve(workflowId: string, input: DecisionInput, opts: { movedOn?: boolean } = {}): Promise<PipelineStatus> {
    const voted = await this.update(workflowId, approveUpdate, input);
    return opts.movedOn === false ? voted : this.movedOn(workflowId);
  }

  async reject(workflowId: string, input: DecisionInput): Promise<PipelineStatus> {
    await this.update(workflowId, rejectUpdate, input);
    return this.movedOn(workflowId);
  }

  /**
   * The status once the release has left the approval stage. The decision is already recorded; the
   * next stage follows its MLflow tags, so an MLflow outage may hold it: then the last status is shown.
   */
  private async movedOn(workflowId: string, waitMs = 10_000): Promise<PipelineStatus> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const status = await this.handle(workflowId).query(statusQuery);
      if (status.stage !== 'awaiting-approval' || Date.now() >= deadline) return status;
      await sleep(200);
    }
  }

  /**
   * Rolls back a release: a running one by update (the answer comes once it is done); a finished
   * one through a `rollbackRelease` workflow, which checks who asks against the release's own spec.
   */
  async rollback(workflowId: string, input: RollbackInput): Promise<PipelineStatus | RollbackReleaseResult> {
    const description = await this.handle(workflowId).describe();
    if (description.status.name === 'RUNNING') {
      return this.update(workflowId, rollbackUpdate, input);
    }
    const args: RollbackReleaseInput = { releaseWorkflowId: workflowId, requestedBy: input.requestedBy, reason: input.reason ?? '', ...(input.signature ? { signature: input.signature } : {}) };
    try {
      return (await this.client.workflow.execute('rollbackRelease', {
        // Where the release ran: that orchestration worker can read it.
        taskQueue: description.taskQueue,
        workflowId: rollbackWorkflowId(workflowId, description.runId),
        // A second order while one runs joins it; after a refusal (a failed run) a new one may run.
        workflowIdConflictPolicy: 'USE_EXISTING',
        workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
        args: [args],
      })) as RollbackReleaseResult;
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        const done = await completedRollback(this.client, workflowId, description.runId);
        throw new RequestRefusedError(`${workflowId} was already rolled back by ${done?.rollback?.by ?? 'someone'}`);
      }
      // Refusals come from the workflow as typed failures: say why, plainly.
      const cause = err instanceof WorkflowFailedError ? innermost(err) : undefined;
      if (cause instanceof ApplicationFailure && cause.type && REFUSALS.has(cause.type)) throw new RequestRefusedError(cause.message);
      throw err;
    }
  }

  /** promote / abort / pause / resume of a canary, as an update: refused orders come back as RequestRefusedError. */
  async rolloutOrder(workflowId: string, action: RolloutAction, order: RolloutOrder): Promise<PipelineStatus> {
    return this.update(workflowId, rolloutUpdates[action], order);
  }

  /** The release's status (its `rollout` part: weights, step, analyses), running or finished. */
  async releaseStatus(workflowId: string): Promise<PipelineStatus> {
    return this.handle(workflowId).query(statusQuery);
  }

  async cancel(workflowId: string): Promise<void> {
    await this.handle(workflowId).cancel();
  }

  /**
   * Sends an update; refusals come back as RequestRefusedError. An attempt whose call times out (a
   * worker slow to take it: busy, replaying an evicted release, or restarting) is sent again under
   * the same update id for up to UPDATE_RETRY_MS, and the server answers a repeat with that update's
   * own outcome: an order is carried out, and a vote counted, once.
   */
  private async update<A>(workflowId: string, def: UpdateDefinition<PipelineStatus, [A]>, arg: A): Promise<PipelineStatus> {
    const updateId = randomUUID();
    const send = () => this.handle(workflowId).executeUpdate(def, { args: [arg], updateId });
    const { updateAttemptMs } = this.opts;
    const attempt = updateAttemptMs ? () => this.client.withDeadline(Date.now() + updateAttemptMs, send) : send;
    const giveUpAt = Date.now() + UPDATE_RETRY_MS;
    for (;;) {
      try {
        return await attempt();
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError) throw new RequestRefusedError(`${workflowId}: ${err.cause?.message ?? err.message}`);
        if (!(err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) || Date.now() >= giveUpAt) throw err;
      }
    }
  }
}

/** The SlipwayStage search attribute of a listed execution (search attributes are never encrypted). */
function stageOf(e: temporal.api.workflow.v1.IWorkflowExecutionInfo): string {
  const payload = e.searchAttributes?.indexedFields?.[STAGE_KEY.name];
  return payload ? String(defaultPayloadConverter.fromPayload(payload) ?? '') : '';
}

/**
 * The stage to show: the search attribute's, unless the execution ended without reaching a final
 * stage (terminated, timed out, reset away): then how it ended, since the attribute can no longer change.
 */
export function listedStage(stage: string, status: string): { stage: string; endedIn?: string } {
  if (status === 'RUNNING' || status === 'CONTINUED_AS_NEW' || FINAL_STAGES.has(stage as Stage)) return { stage };
  return { stage: status === 'CANCELED' ? 'cancelled' : status.toLowerCase().replaceAll('_', '-'), ...(stage ? { endedIn: stage } : {}) };
}

/** `RUNNING`, `COMPLETED`, ... as the SDK names them. */
function statusName(status: temporal.api.enums.v1.WorkflowExecutionStatus | null | undefined): string {
  return (proto.temporal.api.enums.v1.WorkflowExecutionStatus[status ?? 0] ?? 'UNSPECIFIED').replace(/^WORKFLOW_EXECUTION_STATUS_/, '');
}

async function progressOf(client: Client, a: temporal.api.workflow.v1.IPendingActivityInfo): Promise<TrainingProgress> {
  const details = (await decodePayload<Record<string, unknown>>(client, a.heartbeatDetails?.payloads?.[0]).catch(() => undefined)) ?? {};
  const num = (x: unknown) => (typeof x === 'number' ? x : undefined);
  return {
    activity: a.activityType?.name ?? 'unknown',
    attempt: a.attempt ?? 1,
    step: num(details.step),
    totalSteps: num(details.totalSteps),
    loss: num(details.loss),
    checkpoint: typeof details.checkpoint === 'string' ? details.checkpoint : undefined,
    done: num(details.done),
    total: num(details.total),
    errors: num(details.errors),
    job: jobOf(details.job),
  };
}

function jobOf(v: unknown): TrainingProgress['job'] {
  if (typeof v !== 'object' || v === null) return undefined;
  const j = v as Record<string, unknown>;
  if (typeof j.id !== 'string' || (j.state !== 'pending' && j.state !== 'running')) return undefined;
  return { id: j.id, state: j.state, ...(typeof j.reason === 'string' ? { reason: j.reason } : {}) };
}

function innermost(err: Error): Error {
  let e: Error = err;
  while (e.cause instanceof Error) e = e.cause;
  return e;
}

const SERVING_ACTIVITIES = new Set(['deployCandidate', 'evaluateModel', 'stopCandidate', 'promoteVersion', 'rollbackDeployment', 'describeDeployment', 'smokeTest', 'sampleProductionMetrics', 'setCanaryWeight', 'measureMetric']);
const QUEUE_FLAGS: SlipwayQueues = { orchestration: '--task-queue', serving: '--serving-task-queue', gpu: '--gpu-task-queue' };

/** Which role's worker runs an activity of the release. */
function roleOfActivity(name: string): Role {
  if (name === 'trainModel') return 'gpu';
  return SERVING_ACTIVITIES.has(name) ? 'serving' : 'orchestration';
}

/** Failure types of rollbackRelease that mean "refused", not "broken". */
const REFUSALS = new Set(['NotAllowed', 'NothingToRollBack', 'ReleaseStillRunning', 'ReleaseNotFound', 'VersionNotLive', 'NoPreviousVersion']);
