import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MlflowClient } from '../../src/activities/mlflow/client.js';
import { MlflowError } from '../../src/activities/mlflow/errors.js';
import { createMlflowActivities } from '../../src/activities/mlflow/tracking.js';
import { startMlflowServer, type RunningMlflow } from '../../src/stack/mlflow-server.js';
import { tail } from '../../src/system/files.js';
import { freePort } from '../../src/system/ports.js';
import { failureOf, runActivity, unique } from './support.js';

// This file stops and restarts its own MLflow server, so it never disturbs the shared one.
let dir: string;
let port: number;
let server: RunningMlflow | undefined;
const start = async () => {
  server = await startMlflowServer({ port, stateDir: path.join(dir, 'mlflow'), logFile: path.join(dir, 'mlflow.log') });
  return server;
};

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'slipway-mlflow-outage-'));
  port = await freePort();
  await start();
});
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('an unreachable MLflow is a retryable MlflowUnavailable; after a restart on the same state the data is back', async () => {
  const url = `http://127.0.0.1:${port}`;
  const acts = createMlflowActivities({ config: { trackingUri: url, requestTimeoutMs: 5000 } });
  const input = {
    experimentName: unique('outage'),
    pipelineName: 'tiny-llm',
    workflowId: unique('wf'),
    runId: 'r1',
    specParams: { seed: '7' },
    codeVersion: 'deadbeef',
    specJson: '{}',
  };
  const started = await runActivity(acts.mlflowStartPipelineRun, input);
  const metrics = [{ key: 'loss', value: 0.25, step: 3, timestamp: 1_700_000_000_003 }];
  await runActivity(acts.mlflowLogMetrics, { mlflowRunId: started.mlflowRunId, metrics });

  await server?.stop();
  const failure = await failureOf(runActivity(acts.mlflowLogMetrics, { mlflowRunId: started.mlflowRunId, metrics }));
  expect(failure.type).toBe('MlflowUnavailable');
  expect(failure.nonRetryable).toBe(false);
  expect(failure.message).toContain(`MLflow at ${url} is unreachable`);
  const raw = await new MlflowClient({ trackingUri: url }).getRun(started.mlflowRunId).catch((e: unknown) => e);
  expect(raw).toBeInstanceOf(MlflowError);
  expect(raw).toMatchObject({ retryable: true, type: 'MlflowUnavailable', errorCode: 'UNAVAILABLE', status: undefined });

  await start().catch((err: unknown) => {
    throw new Error(`MLflow did not restart on port ${port}: ${String(err)}\n${tail(path.join(dir, 'mlflow.log'))}`);
  });
  // The workflow's retry, now that MLflow is back: the same activity with the same input.
  await runActivity(acts.mlflowLogMetrics, { mlflowRunId: started.mlflowRunId, metrics });
  expect(await runActivity(acts.mlflowStartPipelineRun, input)).toEqual(started);
  const client = new MlflowClient({ trackingUri: url });
  expect(await client.getMetricHistory(started.mlflowRunId, 'loss')).toEqual([{ key: 'loss', value: 0.25, step: 3, timestamp: 1_700_000_000_003 }]);
  expect((await client.getRun(started.mlflowRunId)).data.params).toEqual({ seed: '7' });
});
