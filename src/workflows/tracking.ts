// A release's MLflow bookkeeping, hung on its stage transitions. Since 'batched-mlflow' each
// transition is one activity (open the run and read the champion; a candidate's whole child run;
// the gate; the registration; the close): each activity is a round trip through Temporal, and the
// bookkeeping used to take fourteen of them. Runs recorded before keep their one-request calls.
import { patched, workflowInfo } from '@temporalio/workflow';
import type { ArtifactRef } from '../activities/artifacts/store.js';
import type { BatchMetric } from '../activities/mlflow/batch.js';
import { nowIso, type RunContext } from './context.js';

type RunEnd = 'FINISHED' | 'FAILED' | 'KILLED';
type Params = Record<string, string | number | boolean>;

/** True when this run records MLflow in batches: every run since the patch, and older runs from where new code took over. */
export function batchedTracking(ctx: RunContext): boolean {
  return ctx.spec.mlflow.enabled && patched('batched-mlflow');
}

/** Opens the release's parent run and reads the champion the gate compares against. */
export async function openTracking(ctx: RunContext): Promise<void> {
  const { spec, input, status, acts } = ctx;
  if (!spec.mlflow.enabled) return;
  const run = {
    experimentName: spec.mlflow.experiment ?? spec.name,
    pipelineName: spec.name,
    workflowId: status.workflowId,
    runId: workflowInfo().firstExecutionRunId,
    specParams: { release: input.release, model: spec.model.name, train_command: spec.train.command.join(' '), ...stringParams(spec.train.params) },
    codeVersion: input.codeVersion,
    specJson: JSON.stringify(spec),
  };
  if (batchedTracking(ctx)) {
    const opened = await acts.tracking.mlflowOpenRelease({ ...run, modelName: spec.model.name });
    status.mlflow = { experimentId: opened.experimentId, runId: opened.mlflowRunId };
    status.champion = opened.champion ? { version: opened.champion.version, metrics: opened.champion.metrics } : null;
    return;
  }
  const res = await acts.tracking.mlflowStartPipelineRun(run);
  status.mlflow = { experimentId: res.experimentId, runId: res.mlflowRunId };
  const champion = await acts.tracking.mlflowGetChampion({ modelName: spec.model.name });
  status.champion = champion ? { version: champion.version, metrics: champion.metrics } : null;
}

/** What a candidate's lane reports to its MLflow child run. */
export interface CandidateTracker {
  trained(lossByStep: Array<{ step: number; loss: number }>): Promise<void>;
  evaluated(metrics: Record<string, number>, tags: Record<string, string>): Promise<void>;
  /** The variant failed: a batched run records what it has, as FAILED (best effort). */
  failed(): Promise<void>;
}

/** The child run of one variant; undefined when MLflow is off. The mode is chosen once per variant, as it starts. */
export async function trackCandidate(ctx: RunContext, name: string, params: Params): Promise<CandidateTracker | undefined> {
  const parent = ctx.status.mlflow;
  if (!parent) return undefined;
  const { tracking } = ctx.acts;
  const child = {
    experimentId: parent.experimentId,
    parentRunId: parent.runId,
    name: `candidate-${name}`,
    key: `${ctx.status.workflowId}/candidate/${name}`,
    params: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])),
    tags: { 'slipway.variant': name, 'slipway.started_at': nowIso() },
  };
  if (batchedTracking(ctx)) {
    const metrics: BatchMetric[] = [];
    const record = (endTags: Record<string, string>, status: RunEnd) => tracking.mlflowRecordCandidate({ ...child, endTags, metrics, status });
    return {
      trained: async (losses) => void metrics.push(...trainLoss(losses)),
      evaluated: async (m, tags) => {
        metrics.push(...evalMetrics(m));
        await record(tags, 'FINISHED');
      },
      failed: () => record({}, 'FAILED').then(() => undefined, () => undefined),
    };
  }
  const { mlflowRunId } = await tracking.mlflowStartChildRun(child);
  return {
    trained: (losses) => tracking.mlflowLogMetrics({ mlflowRunId, metrics: trainLoss(losses) }),
    evaluated: async (m, tags) => {
      await tracking.mlflowLogMetrics({ mlflowRunId, metrics: evalMetrics(m) });
      await tracking.mlflowSetTags({ mlflowRunId, tags });
      await tracking.mlflowEndRun({ mlflowRunId, status: 'FINISHED' });
    },
    failed: async () => undefined, // runs recorded before left the child run as it was
  };
}

function trainLoss(losses: Array<{ step: number; loss: number }>): BatchMetric[] {
  const at = new Date().getTime();
  return losses.map((p) => ({ key: 'train_loss', value: p.loss, step: p.step, timestamp: at }));
}

function evalMetrics(metrics: Record<string, number>): BatchMetric[] {
  const at = new Date().getTime();
  return Object.entries(metrics).map(([key, value]) => ({ key: `eval_${key}`, value, step: 0, timestamp: at }));
}

/** The winner's metrics as parent-run metrics: the registered version points at this run, and the next gate reads them. */
export function championMetrics(metrics: Record<string, number>): BatchMetric[] {
  const timestamp = new Date().getTime();
  return Object.entries(metrics).map(([key, value]) => ({ key, value, step: 0, timestamp }));
}

/** Uploads the winner's model into the run, registers it and makes it champion. */
export async function registerRelease(ctx: RunContext, model: { artifactPath?: string; artifact?: ArtifactRef }): Promise<{ modelVersion: string; previousChampion: string | null } | undefined> {
  const { spec, status, acts } = ctx;
  if (!status.mlflow) return undefined;
  const runId = status.mlflow.runId;
  // The registry only takes sources inside a run's artifacts: upload the model there first.
  const artifactPath = `model/${model.artifactPath?.split('/').at(-1) ?? 'model'}`;
  // The model crosses hosts by URI; runs recorded before that name the GPU host's path.
  const source = model.artifact ? { artifact: model.artifact } : { localPath: model.artifactPath ?? '' };
  if (batchedTracking(ctx)) {
    return acts.tracking.mlflowRegisterRelease({ mlflowRunId: runId, modelName: spec.model.name, workflowId: status.workflowId, artifactPath, ...source });
  }
  await acts.tracking.mlflowLogFile({ mlflowRunId: runId, artifactPath, ...source });
  const { version } = await acts.tracking.mlflowRegisterModelVersion({ modelName: spec.model.name, source: `runs:/${runId}/model`, mlflowRunId: runId, workflowId: status.workflowId });
  const { previousChampion } = await acts.tracking.mlflowPromote({ modelName: spec.model.name, version });
  return { modelVersion: version, previousChampion };
}

/** Sets the closing tags (and any last text artifacts) and ends the run. */
export async function endTracking(ctx: RunContext, state: RunEnd, tags: Record<string, string>, texts: Array<{ artifactPath: string; text: string }> = []): Promise<void> {
  if (!ctx.status.mlflow) return;
  const mlflowRunId = ctx.status.mlflow.runId;
  if (batchedTracking(ctx)) {
    await ctx.acts.tracking.mlflowRecordRun({ mlflowRunId, tags, texts, end: state });
    return;
  }
  for (const t of texts) await ctx.acts.tracking.mlflowLogText({ mlflowRunId, ...t });
  await ctx.acts.tracking.mlflowSetTags({ mlflowRunId, tags });
  await ctx.acts.tracking.mlflowEndRun({ mlflowRunId, status: state });
}

function stringParams(params: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(params).map(([k, v]) => [`train.${k}`, String(v)]));
}
