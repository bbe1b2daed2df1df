// The state one pipeline run shares between its stages, and the helpers that change it.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { ActivityFailure, ApplicationFailure, isCancellation, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { PipelineSpec } from '../spec/schema.js';
import type { PipelineActivities, ReleaseQueues } from './activities.js';
import { refreshDetails } from './metadata.js';
import type { RolloutControl } from './canary.js';
import type { PipelineStatus, Stage } from './status.js';

export const STAGE_KEY = defineSearchAttributeKey('SlipwayStage', SearchAttributeType.KEYWORD);

export interface ReleaseInput {
  /** The validated spec, defaults filled in; stored in history so the run is reproducible. */
  spec: PipelineSpec;
  /** Absolute directory of the spec file: relative paths in the spec are relative to it. */
  specDir: string;
  /** Release label; empty for scheduled runs, which take it from their workflow id. */
  release: string;
  /** Git commit (or content digest) of the code the run trains with. */
  codeVersion: string;
  /** Task queues of the serving and gpu roles (defaults: slipway-serving, slipway-gpu). */
  queues?: ReleaseQueues;
  /** Older runs named only the GPU queue. */
  gpuTaskQueue?: string;
  /** Carried across continue-as-new: a long wait (approval, canary pause) or the monitor going on. */
  carried?: CarriedState;
  /** Who started or triggered it (approval.separate_duties keeps them from approving it). */
  startedBy?: string;
  /** A long wait continues as new once its run's history has this many events (default 2,000; tests set it low). */
  maxHistoryEvents?: number;
}

/** State that outlives one run of the chain: a monitor's, an approval wait's, or a canary's. */
export interface CarriedState {
  status: PipelineStatus;
  previousSnapshot: unknown;
  /** Set when the run continued as new while waiting for approval: where the wait stood. */
  approvalWait?: ApprovalWait;
  /** Set when the run continued as new during a canary's pause: the people's orders so far (where it stands is in the status). */
  canaryWait?: RolloutControl;
}

/** Which round of an approval wait (1: escalated) and whether its half-way reminder went out. */
export interface ApprovalWait {
  round: number;
  reminded: boolean;
}

export interface RunContext {
  input: ReleaseInput;
  spec: PipelineSpec;
  status: PipelineStatus;
  acts: PipelineActivities;
  /** Set by the rollback signal/update; the running stage acts on it. */
  rollbackRequest?: { by: string; reason: string };
  /** Promote, abort, pause and resume orders for a canary; the canary stage acts on them. */
  rolloutControl: RolloutControl;
}

/** Workflow time (replay-safe: the sandbox's Date is the workflow clock). */
export function nowIso(): string {
  return new Date().toISOString();
}

/** Moves the run to a stage: closes the previous stage's timing, updates the search attribute and the UI's details. */
export function enterStage(ctx: RunContext, stage: Stage): void {
  const at = nowIso();
  const current = ctx.status.stages.at(-1);
  if (current && !current.endedAt) current.endedAt = at;
  ctx.status.stages.push({ stage, startedAt: at });
  ctx.status.stage = stage;
  upsertSearchAttributes([{ key: STAGE_KEY, value: stage }]);
  refreshDetails(ctx);
}

/** Relative spec paths resolve against the spec's directory (no node:path in the sandbox). */
export function resolvePath(dir: string, p: string): string {
  if (p.startsWith('/')) return p;
  const joined = `${dir}/${p}`.split('/');
  const out: string[] = [];
  for (const part of joined) {
    if (part === '..') out.pop();
    else if (part !== '.' && part !== '') out.push(part);
  }
  return `/${out.join('/')}`;
}

export function initialStatus(input: ReleaseInput): PipelineStatus {
  return {
    workflowId: workflowInfo().workflowId,
    pipeline: input.spec.name,
    model: input.spec.model.name,
    release: input.release,
    stage: 'starting',
    stages: [],
    variants: [],
    invalidMessages: [],
    ...(input.startedBy ? { startedBy: input.startedBy } : {}),
  };
}

/** Sends a notification when the spec asks for it; a failed webhook never fails the run. */
export async function notify(ctx: RunContext, event: string, text: string, fields?: Record<string, string>): Promise<void> {
  if (!ctx.spec.notify) return;
  try {
    await ctx.acts.notify.notify({
      event,
      text,
      fields,
      pipeline: ctx.spec.name,
      workflowId: ctx.status.workflowId,
      webhookEnv: ctx.spec.notify.webhook_env,
    });
  } catch (err) {
    // Already logged by the activity; notifications are best effort by design.
    if (isCancellation(err)) throw err;
  }
}

/** The useful part of a failure: the activity that failed and its innermost typed error. */
export function describeFailure(err: unknown): string {
  let activity: string | undefined;
  let inner: unknown = err;
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof ActivityFailure) activity ??= e.activityType;
    inner = e;
  }
  // A cancellation carries no message of its own: say what happened rather than print nothing.
  if (isCancellation(err)) return activity ? `${activity} cancelled` : 'cancelled';
  const what = inner instanceof ApplicationFailure && inner.type ? `${inner.type}: ${inner.message}` : inner instanceof Error ? inner.message || inner.name : String(inner);
  return activity ? `${activity} failed: ${what}` : what;
}
