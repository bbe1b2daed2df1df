import { createServer } from 'node:http';
import { describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import { BATCH_LIMITS, splitBatch } from '../../src/activities/mlflow/batch.js';
import { MlflowClient, mlflowConfigFromEnv } from '../../src/activities/mlflow/client.js';
import { MlflowError } from '../../src/activities/mlflow/errors.js';
import { unique, withTempFile } from './support.js';

const client = () => new MlflowClient({ trackingUri: inject('mlflowUrl') });

describe('MlflowClient against a real mlflow server', () => {
  it('get-or-create of an experiment twice gives the same id, also when racing', async () => {
    const name = unique('exp');
    const first = await client().getOrCreateExperiment(name);
    expect(await client().getOrCreateExperiment(name)).toBe(first);
    const racing = unique('exp-race');
    const raced = await Promise.all([1, 2, 3].map(() => client().getOrCreateExperiment(racing)));
    expect(new Set(raced).size).toBe(1);
  });

  it('splits a batch of 2500 metrics within MLflow limits and stores all of them', async () => {
    const c = client();
    const experimentId = await c.getOrCreateExperiment(unique('exp'));
    const run = await c.createRun({ experimentId, runName: 'batch' });
    const t0 = Date.now();
    const metrics = Array.from({ length: 2500 }, (_, i) => ({ key: 'loss', value: 1 / (i + 1), step: i, timestamp: t0 + i }));
    await c.logBatch(run.info.run_id, { metrics, params: { lr: '0.001' }, tags: { phase: 'train' } });
    const history = await c.getMetricHistory(run.info.run_id, 'loss');
    expect(history).toHaveLength(2500);
    expect(new Set(history.map((m) => m.step)).size).toBe(2500);
    const got = await c.getRun(run.info.run_id);
    expect(got.data.params).toEqual({ lr: '0.001' });
    expect(got.data.tags.phase).toBe('train');
  });

  it('logs dataset inputs with digests, once per (name, digest)', async () => {
    const c = client();
    const run = await c.createRun({ experimentId: await c.getOrCreateExperiment(unique('exp')) });
    const ds = { name: 'eval-set', digest: 'abc123', sourceType: 'local', source: '{"uri":"file:///data/eval.jsonl"}', context: 'evaluation' };
    await c.logInputs(run.info.run_id, [ds]);
    await c.logInputs(run.info.run_id, [ds]);
    const raw = await c.http.call('GET', 'runs/get', z.any(), { query: { run_id: run.info.run_id } });
    expect(raw.run.inputs.dataset_inputs).toHaveLength(1);
    expect(raw.run.inputs.dataset_inputs[0].dataset).toMatchObject({ name: 'eval-set', digest: 'abc123' });
  });

  it('uploads artifacts through the proxied artifact API and reads them back', async () => {
    const c = client();
    const run = await c.createRun({ experimentId: await c.getOrCreateExperiment(unique('exp')) });
    const bytes = Buffer.from([0, 1, 2, 250, 255, 10, 13]);
    await withTempFile('report.bin', bytes, (file) => c.logArtifact(run.info.run_id, file, 'eval/report.bin'));
    await c.logArtifactBytes(run.info.run_id, 'notes/readme.md', '# héllo');
    expect(run.info.artifact_uri).toMatch(/^mlflow-artifacts:/);
    expect(await c.downloadArtifact(run.info.run_id, 'eval/report.bin')).toEqual(bytes);
    expect((await c.downloadArtifact(run.info.run_id, 'notes/readme.md')).toString('utf8')).toBe('# héllo');
  });

  it('maps MLflow error bodies to typed, non-retryable MlflowErrors for 4xx', async () => {
    const err = await client().getRun('0123456789abcdef').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MlflowError);
    expect(err).toMatchObject({ status: 404, errorCode: 'RESOURCE_DOES_NOT_EXIST', retryable: false, type: 'MlflowError' });
    expect(await client().getAlias(unique('no-model'), 'champion')).toBeNull();
  });
});

describe('splitBatch', () => {
  it('keeps every request within 1000 metrics, 100 params, 100 tags and 1000 entities', () => {
    const metrics = Array.from({ length: 2050 }, (_, i) => ({ key: 'm', value: i, step: i, timestamp: i }));
    const params = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`p${i}`, String(i)]));
    const tags = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`t${i}`, String(i)]));
    const parts = splitBatch({ metrics, params, tags });
    for (const p of parts) {
      expect(p.metrics.length).toBeLessThanOrEqual(BATCH_LIMITS.metrics);
      expect(p.params.length).toBeLessThanOrEqual(BATCH_LIMITS.params);
      expect(p.tags.length).toBeLessThanOrEqual(BATCH_LIMITS.tags);
      expect(p.metrics.length + p.params.length + p.tags.length).toBeLessThanOrEqual(BATCH_LIMITS.total);
    }
    expect(parts.flatMap((p) => p.metrics)).toEqual(metrics);
    expect(parts.flatMap((p) => p.params)).toHaveLength(150);
    expect(parts.flatMap((p) => p.tags)).toHaveLength(30);
    expect(splitBatch({})).toEqual([]);
  });
});

describe('mlflowConfigFromEnv', () => {
  it('reads the standard MLflow variable names', () => {
    expect(
      mlflowConfigFromEnv({ MLFLOW_TRACKING_URI: 'http://mlflow:5000/', MLFLOW_TRACKING_USERNAME: 'u', MLFLOW_TRACKING_PASSWORD: 'p', MLFLOW_HTTP_REQUEST_TIMEOUT: '5' }),
    ).toEqual({ trackingUri: 'http://mlflow:5000', username: 'u', password: 'p', requestTimeoutMs: 5000 });
    expect(mlflowConfigFromEnv({ MLFLOW_TRACKING_URI: 'https://m', MLFLOW_TRACKING_TOKEN: 't' })).toEqual({ trackingUri: 'https://m', token: 't' });
  });

  it('names the variable and the rule when the environment is wrong', () => {
    expect(() => mlflowConfigFromEnv({})).toThrow(/MLFLOW_TRACKING_URI: required/);
    expect(() => mlflowConfigFromEnv({ MLFLOW_TRACKING_URI: 'file:///tmp/mlruns' })).toThrow(/MLFLOW_TRACKING_URI: expected an http/);
    expect(() => mlflowConfigFromEnv({ MLFLOW_TRACKING_URI: 'http://m', MLFLOW_TRACKING_USERNAME: 'u' })).toThrow(/set both or neither/);
  });

  it('sends MLFLOW_TRACKING_TOKEN as a bearer token', async () => {
    // Test double: open-source MLflow has no bearer-token auth to test against, so a bare
    // HTTP server records the header the client sends.
    const seen: Array<string | undefined> = [];
    const server = createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ experiment: { experiment_id: '7', name: 'x', lifecycle_stage: 'active' } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      const c = new MlflowClient(mlflowConfigFromEnv({ MLFLOW_TRACKING_URI: `http://127.0.0.1:${port}`, MLFLOW_TRACKING_TOKEN: 'tok-1' }));
      expect(await c.getOrCreateExperiment('x')).toBe('7');
      expect(seen).toEqual(['Bearer tok-1']);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
