import { setTimeout as sleep } from 'node:timers/promises';
import { MlflowError } from './errors.js';
import { isAlreadyExists, isNotFound, MlflowRunClient } from './run-client.js';
import * as s from './schemas.js';

export type { MlflowConfig } from './config.js';
export { mlflowConfigFromEnv } from './config.js';
export type { BatchInput, BatchMetric, DatasetInput } from './batch.js';
export type { Experiment, Metric, ModelVersion, RegisteredModel, Run } from './schemas.js';
export { isAlreadyExists, isNotFound, type RunStatus } from './run-client.js';

/**
 * A small typed client for MLflow's REST API 2.0 over undici, answers checked with zod:
 * tracking (from MlflowRunClient) plus the model registry and its aliases.
 * `new MlflowClient(mlflowConfigFromEnv())` in a worker; nothing here retries.
 */
export class MlflowClient extends MlflowRunClient {
  /** Creates a registered model; one that already exists counts as success. */
  async createRegisteredModel(name: string): Promise<void> {
    try {
      await this.http.call('POST', 'registered-models/create', s.registeredModelResponse, { body: { name } });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  }

  /** The registered model (with its aliases), or null. */
  async getRegisteredModel(name: string): Promise<s.RegisteredModel | null> {
    try {
      return (await this.http.call('GET', 'registered-models/get', s.registeredModelResponse, { query: { name } })).registered_model;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /** Creates a model version; MLflow accepts sources inside the run's artifacts, e.g. `runs:/<runId>/model`. */
  async createModelVersion(input: { name: string; source: string; runId?: string; tags?: Record<string, string>; description?: string }): Promise<s.ModelVersion> {
    const tags = Object.entries(input.tags ?? {}).map(([key, value]) => ({ key, value }));
    const body = { name: input.name, source: input.source, run_id: input.runId, tags, description: input.description };
    return (await this.http.call('POST', 'model-versions/create', s.modelVersionResponse, { body })).model_version;
  }

  async getModelVersion(name: string, version: string): Promise<s.ModelVersion> {
    return (await this.http.call('GET', 'model-versions/get', s.modelVersionResponse, { query: { name, version } })).model_version;
  }

  /** Polls until the version is READY; FAILED_REGISTRATION is final, a timeout is retryable. */
  async waitModelVersionReady(name: string, version: string, opts: { timeoutMs?: number; pollMs?: number } = {}): Promise<s.ModelVersion> {
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
    for (;;) {
      const mv = await this.getModelVersion(name, version);
      if (mv.status === 'READY') return mv;
      const endpoint = 'model-versions/get';
      if (mv.status === 'FAILED_REGISTRATION') {
        throw new MlflowError(`model ${name} version ${version} failed registration: ${mv.status_message}`, { errorCode: 'FAILED_REGISTRATION', retryable: false, type: 'MlflowError', endpoint });
      }
      if (Date.now() >= deadline) {
        throw new MlflowError(`model ${name} version ${version} is still ${mv.status}`, { errorCode: 'MODEL_VERSION_NOT_READY', retryable: true, type: 'MlflowError', endpoint });
      }
      await sleep(opts.pollMs ?? 500);
    }
  }

  /** Model versions matching a filter such as `name='m' and run_id='abc'`, all pages. */
  async searchModelVersions(filter: string, maxResults = 10_000): Promise<s.ModelVersion[]> {
    const out: s.ModelVersion[] = [];
    let pageToken: string | undefined;
    do {
      const query = { filter, max_results: Math.min(maxResults - out.length, 10_000), page_token: pageToken };
      const res = await this.http.call('GET', 'model-versions/search', s.searchModelVersionsResponse, { query });
      out.push(...res.model_versions);
      pageToken = res.next_page_token || undefined;
    } while (pageToken && out.length < maxResults);
    return out;
  }

  async setModelVersionTag(name: string, version: string, key: string, value: string): Promise<void> {
    await this.http.call('POST', 'model-versions/set-tag', s.empty, { body: { name, version, key, value } });
  }

  async setAlias(name: string, alias: string, version: string): Promise<void> {
    await this.http.call('POST', 'registered-models/alias', s.empty, { body: { name, alias, version } });
  }

  /**
   * The version an alias points at, or null when the model or the alias does not exist. Reads the
   * model's alias list because MLflow answers a missing alias with a generic 400.
   */
  async getAlias(name: string, alias: string): Promise<s.ModelVersion | null> {
    const model = await this.getRegisteredModel(name);
    const hit = model?.aliases.find((a) => a.alias === alias);
    return hit ? this.getModelVersion(name, hit.version) : null;
  }

  /** Removes an alias; MLflow treats a missing alias as success. */
  async deleteAlias(name: string, alias: string): Promise<void> {
    await this.http.call('DELETE', 'registered-models/alias', s.empty, { body: { name, alias } });
  }
}
