import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { MlflowConfig } from './config.js';
import { MlflowError } from './errors.js';
import { MlflowHttp } from './http.js';
import { splitBatch, type BatchInput, type DatasetInput, toDatasetInputs } from './batch.js';
import * as s from './schemas.js';

export type RunStatus = 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';

/** Is this MLflow's answer for "no such thing"? */
export function isNotFound(err: unknown): boolean {
  return err instanceof MlflowError && (err.errorCode === 'RESOURCE_DOES_NOT_EXIST' || err.status === 404);
}

/** Is this MLflow's answer for "that exists already" (which Slipway counts as success)? */
export function isAlreadyExists(err: unknown): boolean {
  return err instanceof MlflowError && err.errorCode === 'RESOURCE_ALREADY_EXISTS';
}

/**
 * The tracking half of MlflowClient: experiments, runs, metrics, params, tags, datasets and
 * proxied artifacts. Each method is one or a few requests; none retries: callers are activities
 * with retry policies.
 */
export class MlflowRunClient {
  readonly http: MlflowHttp;
  private readonly artifactRoots = new Map<string, string>();

  constructor(config: MlflowConfig) {
    this.http = new MlflowHttp(config);
  }

  /** The experiment by name, or null; a deleted one is returned too (lifecycle_stage 'deleted'). */
  async getExperimentByName(name: string): Promise<s.Experiment | null> {
    try {
      const res = await this.http.call('GET', 'experiments/get-by-name', s.getExperimentResponse, { query: { experiment_name: name } });
      return res.experiment;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /** Returns the experiment's id, creating it if needed; a concurrent creator's "already exists" is success. */
  async getOrCreateExperiment(name: string): Promise<string> {
    let exp = await this.getExperimentByName(name);
    if (!exp) {
      try {
        return (await this.http.call('POST', 'experiments/create', s.createExperimentResponse, { body: { name } })).experiment_id;
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        exp = await this.getExperimentByName(name);
      }
    }
    if (!exp || exp.lifecycle_stage !== 'active') {
      throw new MlflowError(
        `MLflow experiment '${name}' is deleted. Restore it (mlflow experiments restore --experiment-id ${exp?.experiment_id ?? '?'}) or use another name.`,
        { errorCode: 'EXPERIMENT_DELETED', retryable: false, type: 'MlflowError', endpoint: 'experiments/get-by-name' },
      );
    }
    return exp.experiment_id;
  }

  /** Creates a run; tags travel in the same request, so a run never exists without them. */
  async createRun(input: { experimentId: string; runName?: string; startTime?: number; tags?: Record<string, string> }): Promise<s.Run> {
    const tags = Object.entries(input.tags ?? {}).map(([key, value]) => ({ key, value }));
    const body = { experiment_id: input.experimentId, run_name: input.runName, start_time: input.startTime ?? Date.now(), tags };
    return (await this.http.call('POST', 'runs/create', s.runResponse, { body })).run;
  }

  async getRun(runId: string): Promise<s.Run> {
    return (await this.http.call('GET', 'runs/get', s.runResponse, { query: { run_id: runId } })).run;
  }

  async updateRun(runId: string, status: RunStatus, endTime?: number): Promise<void> {
    await this.http.call('POST', 'runs/update', s.empty, { body: { run_id: runId, status, end_time: endTime } });
  }

  /** Logs metrics, params and tags, split into requests within MLflow's per-request limits. */
  async logBatch(runId: string, batch: BatchInput): Promise<void> {
    for (const part of splitBatch(batch)) {
      await this.http.call('POST', 'runs/log-batch', s.empty, { body: { run_id: runId, ...part } });
    }
  }

  /** Links datasets (name + digest) to a run; MLflow stores each (name, digest) once. */
  async logInputs(runId: string, datasets: DatasetInput[]): Promise<void> {
    await this.http.call('POST', 'runs/log-inputs', s.empty, { body: { run_id: runId, datasets: toDatasetInputs(datasets) } });
  }

  async setTag(runId: string, key: string, value: string): Promise<void> {
    await this.http.call('POST', 'runs/set-tag', s.empty, { body: { run_id: runId, key, value } });
  }

  /** All runs matching an MLflow filter string (e.g. tags.`slipway.key` = 'x'), following pages up to maxResults. */
  async searchRuns(input: { experimentIds: string[]; filter?: string; orderBy?: string[]; maxResults?: number }): Promise<s.Run[]> {
    const max = input.maxResults ?? 1000;
    const runs: s.Run[] = [];
    let pageToken: string | undefined;
    do {
      const body = { experiment_ids: input.experimentIds, filter: input.filter, order_by: input.orderBy, max_results: Math.min(max - runs.length, 1000), page_token: pageToken };
      const res = await this.http.call('POST', 'runs/search', s.searchRunsResponse, { body });
      runs.push(...res.runs);
      pageToken = res.next_page_token || undefined;
    } while (pageToken && runs.length < max);
    return runs;
  }

  /** Every logged value of one metric of one run. */
  async getMetricHistory(runId: string, key: string): Promise<s.Metric[]> {
    const out: s.Metric[] = [];
    let pageToken: string | undefined;
    do {
      const query = { run_id: runId, metric_key: key, max_results: 25_000, page_token: pageToken };
      const res = await this.http.call('GET', 'metrics/get-history', s.metricHistoryResponse, { query });
      out.push(...res.metrics);
      pageToken = res.next_page_token || undefined;
    } while (pageToken);
    return out;
  }

  /** Uploads a local file to `artifactPath` (a file path, e.g. `eval/report.json`) inside the run's artifacts. */
  async logArtifact(runId: string, localPath: string, artifactPath: string): Promise<void> {
    await stat(localPath); // a missing file is a local bug, reported as such before any request
    await this.http.putArtifact(await this.artifactPath(runId, artifactPath), createReadStream(localPath));
  }

  /** Uploads in-memory content to `artifactPath` inside the run's artifacts (PUT overwrites: idempotent). */
  async logArtifactBytes(runId: string, artifactPath: string, data: string | Buffer): Promise<void> {
    await this.http.putArtifact(await this.artifactPath(runId, artifactPath), data);
  }

  async downloadArtifact(runId: string, artifactPath: string): Promise<Buffer> {
    return this.http.getArtifact(await this.artifactPath(runId, artifactPath));
  }

  /** Maps a run's `mlflow-artifacts:/<exp>/<run>/artifacts` root to the proxied artifact API's path. */
  private async artifactPath(runId: string, artifactPath: string): Promise<string> {
    let root = this.artifactRoots.get(runId);
    if (root === undefined) {
      const uri = (await this.getRun(runId)).info.artifact_uri;
      if (!uri.startsWith('mlflow-artifacts:')) {
        throw new MlflowError(
          `run ${runId} stores artifacts at '${uri}', which Slipway cannot upload to; run the MLflow server with --serve-artifacts (artifact roots mlflow-artifacts:/...).`,
          { errorCode: 'UNSUPPORTED_ARTIFACT_URI', retryable: false, type: 'MlflowError', endpoint: 'runs/get' },
        );
      }
      root = new URL(uri).pathname.replace(/^\/+|\/+$/g, '');
      this.artifactRoots.set(runId, root);
    }
    return `${root}/${artifactPath.replace(/^\/+/, '')}`;
  }

}
