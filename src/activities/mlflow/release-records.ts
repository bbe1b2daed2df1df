// A release's MLflow bookkeeping in few activities: one per stage transition rather than one per
// request, because each activity costs a round trip through Temporal. Each is built from the
// single-purpose activities (which stay, for histories that call them), and each is idempotent as
// a whole, so a retry repeats it safely.
import type { BatchMetric } from './batch.js';
import type { MlflowClient } from './client.js';
import { withMlflowFailures } from './errors.js';
import { findRunByKey, KEY_TAG, keyTagValue } from './keys.js';
import type { createRegistryActivities } from './registry.js';
import type { ArtifactRef } from '../artifacts/store.js';
import type { tracking } from './tracking.js';

type RunEnd = 'FINISHED' | 'FAILED' | 'KILLED';

export interface OpenReleaseInput {
  experimentName: string;
  pipelineName: string;
  workflowId: string;
  runId: string;
  specParams: Record<string, string>;
  codeVersion: string;
  specJson: string;
  /** The registered model whose champion the gate compares against. */
  modelName: string;
}

export interface RecordCandidateInput {
  experimentId: string;
  parentRunId: string;
  name: string;
  key: string;
  params: Record<string, string>;
  /** Tags the run is created with (a run never exists without them) and tags set as it closes. */
  tags: Record<string, string>;
  endTags: Record<string, string>;
  metrics: BatchMetric[];
  status: RunEnd;
}

export interface RecordRunInput {
  mlflowRunId: string;
  metrics?: BatchMetric[];
  tags?: Record<string, string>;
  /** Text artifacts, e.g. the gate report. */
  texts?: Array<{ artifactPath: string; text: string }>;
  /** Closes the run with this status (a retry keeps the first end time). */
  end?: RunEnd;
}

export interface RegisterReleaseInput {
  mlflowRunId: string;
  modelName: string;
  workflowId: string;
  /** Where the model goes in the run's artifacts, e.g. `model/model.bin`; the version's source is its folder. */
  artifactPath: string;
  artifact?: ArtifactRef;
  localPath?: string;
}

type Tracking = ReturnType<typeof tracking>;
type Registry = ReturnType<typeof createRegistryActivities>;

/** Builds the batched release activities over the single-purpose ones. */
export function createReleaseRecordActivities(client: MlflowClient, t: Tracking, r: Registry) {
  /** Ends a run unless it already ended with this status (a retry keeps the first end time). */
  async function endRun(runId: string, status: RunEnd, known?: { status: string; end_time?: number | null }): Promise<void> {
    const info = known ?? (await client.getRun(runId)).info;
    if (info.status === status && info.end_time) return;
    await client.updateRun(runId, status, Date.now());
  }

  return {
    /** Opens (or finds) the release's parent run with its params and spec.json, and reads the champion, at once. */
    async mlflowOpenRelease(input: OpenReleaseInput) {
      const { modelName, ...run } = input;
      const [opened, champion] = await Promise.all([t.mlflowStartPipelineRun(run), r.mlflowGetChampion({ modelName })]);
      return { ...opened, champion };
    },

    /**
     * A candidate's whole child run in one go, once its variant is done: created (or found, on a
     * retry) with its tags, then its params, metrics and closing tags in log-batch requests, then
     * closed. Metrics carry explicit timestamps, so a retry writes the same rows again.
     */
    async mlflowRecordCandidate(input: RecordCandidateInput): Promise<{ mlflowRunId: string }> {
      return withMlflowFailures(async () => {
        let run = await findRunByKey(client, input.experimentId, input.key, input.parentRunId);
        run ??= await client.createRun({
          experimentId: input.experimentId,
          runName: input.name,
          tags: { ...input.tags, [KEY_TAG]: keyTagValue(input.key), 'mlflow.parentRunId': input.parentRunId },
        });
        const runId = run.info.run_id;
        await client.logBatch(runId, { params: input.params, metrics: input.metrics, tags: input.endTags });
        await endRun(runId, input.status, run.info);
        return { mlflowRunId: runId };
      });
    },

    /** Logs metrics, tags and text artifacts to a run, then closes it when `end` says so. */
    async mlflowRecordRun(input: RecordRunInput): Promise<void> {
      return withMlflowFailures(async () => {
        const texts = input.texts ?? [];
        await Promise.all([
          input.metrics?.length || Object.keys(input.tags ?? {}).length ? client.logBatch(input.mlflowRunId, { metrics: input.metrics, tags: input.tags }) : undefined,
          ...texts.map((x) => client.logArtifactBytes(input.mlflowRunId, x.artifactPath, x.text)),
        ]);
        if (input.end) await endRun(input.mlflowRunId, input.end);
      });
    },

    /** Uploads the model into the run, registers it as a new version and makes it champion: the deploy's bookkeeping. */
    async mlflowRegisterRelease(input: RegisterReleaseInput): Promise<{ modelVersion: string; previousChampion: string | null }> {
      await t.mlflowLogFile({ mlflowRunId: input.mlflowRunId, artifactPath: input.artifactPath, artifact: input.artifact, localPath: input.localPath });
      const folder = input.artifactPath.split('/').slice(0, -1).join('/') || input.artifactPath;
      const { version } = await r.mlflowRegisterModelVersion({
        modelName: input.modelName,
        source: `runs:/${input.mlflowRunId}/${folder}`,
        mlflowRunId: input.mlflowRunId,
        workflowId: input.workflowId,
      });
      const { previousChampion } = await r.mlflowPromote({ modelName: input.modelName, version });
      return { modelVersion: version, previousChampion };
    },
  };
}
