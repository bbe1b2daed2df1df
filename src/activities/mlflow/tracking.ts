import { log } from '@temporalio/activity';
import { MlflowClient, type MlflowConfig } from './client.js';
import type { BatchMetric } from './batch.js';
import { withMlflowFailures } from './errors.js';
import { findRunByKey, KEY_TAG, keyTagValue } from './keys.js';
import { createRegistryActivities } from './registry.js';
import { createReleaseRecordActivities } from './release-records.js';
import { asActivityFailure } from '../../errors.js';
import type { ArtifactRef, ArtifactStore } from '../artifacts/store.js';

export interface MlflowActivityDeps {
  /** Built by the worker from its environment (mlflowConfigFromEnv); secrets stay out of workflow history. */
  config: MlflowConfig;
  /** Where model files come from when they are logged to a run (they were trained on another host). */
  artifacts?: ArtifactStore;
}

/** The single-purpose tracking activities. */
export function tracking(client: MlflowClient, artifacts: ArtifactStore | undefined) {
  return {
    /**
     * Opens (or, on retry, finds) the MLflow parent run of one pipeline execution, keyed by
     * workflow id + run id; logs the spec's params and the spec itself as `spec.json`.
     * Pass the workflow's first execution run id so continue-as-new keeps the same MLflow run.
     */
    async mlflowStartPipelineRun(input: {
      experimentName: string;
      pipelineName: string;
      workflowId: string;
      runId: string;
      specParams: Record<string, string>;
      codeVersion: string;
      specJson: string;
    }): Promise<{ experimentId: string; mlflowRunId: string }> {
      return withMlflowFailures(async () => {
        const experimentId = await client.getOrCreateExperiment(input.experimentName);
        const key = `pipeline/${input.workflowId}/${input.runId}`;
        let run = await findRunByKey(client, experimentId, key);
        if (!run) {
          const tags = {
            [KEY_TAG]: keyTagValue(key),
            'slipway.workflow_id': input.workflowId,
            'slipway.run_id': input.runId,
            'slipway.pipeline': input.pipelineName,
            'mlflow.source.git.commit': input.codeVersion,
          };
          run = await client.createRun({ experimentId, runName: input.workflowId, tags });
          log.info('MLflow pipeline run created', { experimentId, mlflowRunId: run.info.run_id });
        }
        const mlflowRunId = run.info.run_id;
        // Both are safe to repeat: MLflow accepts a param logged again with the same value, and PUT overwrites.
        await client.logBatch(mlflowRunId, { params: input.specParams });
        await client.logArtifactBytes(mlflowRunId, 'spec.json', input.specJson);
        return { experimentId, mlflowRunId };
      });
    },

    /** Opens (or finds) a child run of the pipeline run, e.g. one per stage or variant, by `key`. */
    async mlflowStartChildRun(input: {
      experimentId: string;
      parentRunId: string;
      name: string;
      key: string;
      tags?: Record<string, string>;
      params?: Record<string, string>;
    }): Promise<{ mlflowRunId: string }> {
      return withMlflowFailures(async () => {
        let run = await findRunByKey(client, input.experimentId, input.key, input.parentRunId);
        if (!run) {
          const tags = { ...input.tags, [KEY_TAG]: keyTagValue(input.key), 'mlflow.parentRunId': input.parentRunId };
          run = await client.createRun({ experimentId: input.experimentId, runName: input.name, tags });
        }
        if (input.params) await client.logBatch(run.info.run_id, { params: input.params });
        return { mlflowRunId: run.info.run_id };
      });
    },

    /**
     * Logs metrics with the caller's explicit steps and timestamps. A retried batch writes the
     * same (key, step, timestamp, value) rows, which MLflow's SQL store keeps once (they form its
     * primary key), so retries never double-log; test/mlflow checks this against the server.
     */
    async mlflowLogMetrics(input: { mlflowRunId: string; metrics: BatchMetric[] }): Promise<void> {
      return withMlflowFailures(() => client.logBatch(input.mlflowRunId, { metrics: input.metrics }));
    },

    /** Sets (overwrites) run tags; repeating it changes nothing. */
    async mlflowSetTags(input: { mlflowRunId: string; tags: Record<string, string> }): Promise<void> {
      return withMlflowFailures(() => client.logBatch(input.mlflowRunId, { tags: input.tags }));
    },

    /** Writes text as an artifact file at `artifactPath` (e.g. `gate/report.md`) in the run. */
    async mlflowLogText(input: { mlflowRunId: string; artifactPath: string; text: string }): Promise<void> {
      return withMlflowFailures(() => client.logArtifactBytes(input.mlflowRunId, input.artifactPath, input.text));
    },

    /**
     * Logs a file as the artifact `artifactPath` in the run: a stored artifact (fetched by URI and
     * verified first), or, for runs from before artifacts had URIs, a file on this worker's disk.
     */
    async mlflowLogFile(input: { mlflowRunId: string; artifactPath: string; artifact?: ArtifactRef; localPath?: string }): Promise<void> {
      const { artifact } = input;
      let localPath = input.localPath;
      if (artifact) {
        if (!artifacts) throw new Error('mlflowLogFile got an artifact ref, but this worker has no artifact store');
        localPath = await asActivityFailure(() => artifacts.fetch(artifact));
      }
      if (!localPath) throw new Error('mlflowLogFile needs an artifact or a localPath');
      const file = localPath;
      return withMlflowFailures(() => client.logArtifact(input.mlflowRunId, file, input.artifactPath));
    },

    /** Closes a run; a retry after success leaves the first end time in place. */
    async mlflowEndRun(input: { mlflowRunId: string; status: 'FINISHED' | 'FAILED' | 'KILLED' }): Promise<void> {
      return withMlflowFailures(async () => {
        const run = await client.getRun(input.mlflowRunId);
        if (run.info.status === input.status && run.info.end_time) return;
        await client.updateRun(input.mlflowRunId, input.status, Date.now());
      });
    },
  };
}

/** Builds Slipway's MLflow activities over one client made from `deps.config`. */
export function createMlflowActivities(deps: MlflowActivityDeps) {
  const client = new MlflowClient(deps.config);
  const single = tracking(client, deps.artifacts);
  const registry = createRegistryActivities(client);
  return { ...single, ...registry, ...createReleaseRecordActivities(client, single, registry) };
}

export type MlflowActivities = ReturnType<typeof createMlflowActivities>;
